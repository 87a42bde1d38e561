"""Looking inside a trained network: every layer's activations, pictures of them, class activation
maps and occlusion."""
