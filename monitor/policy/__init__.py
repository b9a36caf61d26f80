"""Pure evaluators of AI-usage policy signals."""
