"""agent: the conversation between the chat and the editing core (intents, planners, executor)."""

from agent.params import EditSettings
from agent.plan import EditPlan, EditStep
from agent.session import ChatSession
from agent.views import ConversationView, JobView, MessageView, NodeView, Reply

__all__ = [
    "ChatSession",
    "ConversationView",
    "EditPlan",
    "EditSettings",
    "EditStep",
    "JobView",
    "MessageView",
    "NodeView",
    "Reply",
]
