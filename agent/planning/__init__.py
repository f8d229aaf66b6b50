"""Planning: a request and a caption in, an EditPlan out (rules, recipes, captions, LLM)."""
