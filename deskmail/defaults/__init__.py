"""Data Deskmail ships with: the default category tree and the starter knowledge base."""
