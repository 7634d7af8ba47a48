"""Reusable helpers for the celebrity face classification course.

One module per concern:

- :mod:`helpers.config`    -- the study's constants, environment variables and folders
- :mod:`helpers.data`      -- data sources (VGGFace2, LFW, any folder) as manifests
- :mod:`helpers.pipeline`  -- the ``tf.data`` input pipeline built from a manifest
- :mod:`helpers.splitting` -- the reproducible, stratified, duplicate-aware 80/10/10 split
- :mod:`helpers.plots`     -- figures, saved with one helper to the figures folder
- :mod:`helpers.runner`    -- executes the numbered notebooks into a run folder

Importing :mod:`helpers` is cheap: TensorFlow is imported (quietly) only by the
modules that need it, through :mod:`helpers.tf_quiet`.
"""

__version__ = "0.1.0"
