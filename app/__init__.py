"""The Streamlit page's parts over agent.ChatSession: chat and job panel, lineage, sidebar."""
