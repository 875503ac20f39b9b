"""Classification: category, subcategory and priority (impact x urgency) of a ticket.

Zero-shot from the category descriptions at first, a trained scikit-learn model once labelled
tickets exist; abstains below a per-class threshold. Imports only `models`.
"""
