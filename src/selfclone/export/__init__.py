"""Export a model or clone to GGUF (llama.cpp, LM Studio) or an Ollama folder, with a fidelity check on every export."""
