"""The BNN of Ezzadeen et al.: model parameters, binarized training, the 2T2R chip model, SA-offset calibration, energy and the BNN studies."""
