"""agent: the conversation between the chat and the editing core (intents, planners, executor)."""

from agent.chat.session import ChatSession
from agent.chat.views import ConversationView, JobView, MessageView, NodeView, Reply
from agent.jobs.executor import Executor, JobSpec
from agent.planning.llm import LLMPlanner, make_planner
from agent.planning.offline import OfflinePlanner, PlanResult
from agent.planning.params import EditSettings
from agent.planning.plan import EditPlan, EditStep

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
