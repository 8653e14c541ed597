"""In-situ training on multi-ReRAM synapses (Boybat et al.): the synapse arrays, the MLP training loop, the accuracy-vs-N sweep and its benchmark."""
