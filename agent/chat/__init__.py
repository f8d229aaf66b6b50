"""The chat session: one message in, replies out, over the collaborators it is handed."""
