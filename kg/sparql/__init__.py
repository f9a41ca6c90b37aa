"""The SPARQL 1.1 service: query/update on the public partition within limits (time,
memory, result size), the query policy, result formats and the killable query workers.
"""
