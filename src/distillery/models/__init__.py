"""Models: backbones (hub, local, tiny-from-config, PyPI-packaged), pooling, the regressor."""
