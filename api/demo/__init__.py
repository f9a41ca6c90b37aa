"""Demo and test machinery: loopback replays of recorded upstream payloads, and the demo
catalog that `aiod-kg serve --demo` loads.
"""
