"""The `aiod-kg` command line: serving, importing, harvesting, search, client and admin
sub-commands.
"""
