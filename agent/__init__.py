"""agent: the conversation between the chat and the editing core (intents, planners, executor)."""

from agent.executor import Executor, JobSpec
from agent.llm import LLMPlanner, make_planner
from agent.offline import OfflinePlanner, PlanResult
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
    "Executor",
    "JobSpec",
    "JobView",
    "LLMPlanner",
    "MessageView",
    "NodeView",
    "OfflinePlanner",
    "PlanResult",
    "Reply",
    "make_planner",
]
