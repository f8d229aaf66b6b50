"""agent: the conversation between the chat and the editing core, in rooms: chat (the
session), reading (what a message means), planning (plans), lineage (walks and going
back), jobs (running edits). This is its door: the page and scripts import from here."""

from agent.chat import welcome
from agent.chat.session import ChatSession
from agent.chat.views import ConversationView, MessageView, NodeView, Reply
from agent.jobs.backends import load_backend
from agent.jobs.damage import DamagedImage, placeholder_png
from agent.jobs.executor import Executor
from agent.jobs.failures import log_failure
from agent.jobs.job_text import check_text, explain_error
from agent.jobs.spec import JobSpec
from agent.jobs.timing import say_seconds
from agent.jobs.view import JobView
from agent.lineage.labels import node_labels
from agent.planning.llm import LLMPlanner, make_planner
from agent.planning.offline import OfflinePlanner, PlanResult
from agent.planning.params import PRESET_CHOICES, EditSettings
from agent.planning.plan import EditPlan, EditStep
from agent.reading.uploads import MAX_UPLOAD_BYTES, check_upload

__all__ = [
    "MAX_UPLOAD_BYTES",
    "PRESET_CHOICES",
    "ChatSession",
    "ConversationView",
    "DamagedImage",
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
    "check_text",
    "check_upload",
    "explain_error",
    "load_backend",
    "log_failure",
    "make_planner",
    "node_labels",
    "placeholder_png",
    "say_seconds",
    "welcome",
]
