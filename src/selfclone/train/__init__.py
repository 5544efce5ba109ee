"""Training: supervised fine-tuning (LoRA or full), preference learning, metrics and run directories."""
