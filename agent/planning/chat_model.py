"""The chat model behind the LLM planner, its vision captions and its answers: made from
the settings (any LangChain chat model: OpenAI-compatible servers, Anthropic, Ollama) and
asked with a timeout. The providers' packages are the optional extra `llm`
(pip install 'mtedit[llm]') and are imported only when used."""

from __future__ import annotations

import concurrent.futures
import os

from langchain_core.language_models import BaseChatModel

from mtedit.settings import Settings

PROVIDERS = ("openai", "anthropic", "ollama")
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "ollama": "llama3.1"}
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="planner")


class PlannerConfigError(RuntimeError):
    """The planner settings cannot work (unknown provider, missing package or key)."""


class PlannerTimeout(TimeoutError):
    """The chat model gave no answer in time."""


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model named by settings.planner / planner_model / planner_base_url / key."""
    provider = (settings.planner or "").lower()
    model = settings.planner_model or DEFAULT_MODELS.get(provider)
    timeout = float(settings.planner_timeout)
    try:
        if provider == "openai":
            from langchain_openai import ChatOpenAI

            key = settings.planner_api_key or os.environ.get("OPENAI_API_KEY")
            if not key and not settings.planner_base_url:
                raise PlannerConfigError(
                    "the openai planner needs MTEDIT_PLANNER_API_KEY (or OPENAI_API_KEY), or "
                    "MTEDIT_PLANNER_BASE_URL for a local OpenAI-compatible server")
            return ChatOpenAI(model=model, base_url=settings.planner_base_url,
                              api_key=key or "not-needed", temperature=0, timeout=timeout,
                              max_retries=0)
        if provider == "anthropic":
            from langchain_anthropic import ChatAnthropic

            key = settings.planner_api_key or os.environ.get("ANTHROPIC_API_KEY")
            if not key:
                raise PlannerConfigError(
                    "the anthropic planner needs MTEDIT_PLANNER_API_KEY (or ANTHROPIC_API_KEY)")
            kw = {"base_url": settings.planner_base_url} if settings.planner_base_url else {}
            return ChatAnthropic(model=model, api_key=key, temperature=0, timeout=timeout,
                                 max_retries=0, **kw)
        if provider == "ollama":
            from langchain_ollama import ChatOllama

            return ChatOllama(model=model, base_url=settings.planner_base_url, temperature=0,
                              client_kwargs={"timeout": timeout})
    except ImportError as exc:
        raise PlannerConfigError(
            f"the {provider} planner needs {exc.name}: pip install 'mtedit[llm]'") from exc
    raise PlannerConfigError(
        f"unknown planner {settings.planner!r}; choose offline, {', '.join(PROVIDERS)}")


def ask_with_timeout(runnable, messages, timeout: float):
    """runnable.invoke(messages) on the planner pool; PlannerTimeout after `timeout` s (the
    call is left to finish on its own: HTTP clients cannot all be interrupted)."""
    future = _POOL.submit(runnable.invoke, messages)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise PlannerTimeout(f"no answer within {timeout:g} s") from None
