"""Who may see and change what: principals, ownership, grants, roles, and the review
workflow's status changes.
"""
