"""The lecture's hands-on labs: prediction (ten-crop, ensembles), transfer learning, the digits
model,
the residual experiment and data augmentation."""
