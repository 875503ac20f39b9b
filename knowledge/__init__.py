"""Knowledge base and matcher: solution articles, their embeddings and lexical index, and
the hybrid search that suggests articles for a ticket. Imports only `models`.
"""
