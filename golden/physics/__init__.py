"""Device and array physics: device pulse-response models and fits, the crossbar conductance state, resistance LUTs, stuck-at faults, IR drop."""
