"""Studies built on the models: the resistance-variability LUT study (Prabhu et al.) with its weight encodings and conv1 CNN, and the fault-robustness study."""
