"""Reading a message: its intent, references to versions, words, checks, cleaning, uploads."""
