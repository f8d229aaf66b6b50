"""Lineage: walks over a conversation's image tree, labels, and finding a version by words."""
