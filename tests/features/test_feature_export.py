"""A waveform front-end exports into a TensorFlow SavedModel and serves the
outputs it has in process, for any batch and any number of samples."""

import keras
import numpy as np
import pytest
from keras import ops
from layer_test import to_numpy

import toolkit

pytestmark = pytest.mark.tensorflow_only

features = toolkit.features


class FrontEnd(keras.Model):
    """`(waveforms, sample_lengths)` -> utterance-normalized log-mel, zero at padding."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.log_mel = features.LogMelSpectrogram(num_mel_bins=20)
        self.cmvn = features.CMVN()

    def call(self, inputs):
        waveforms, sample_lengths = inputs
        log_mel = self.log_mel(waveforms)
        frame_lengths = self.log_mel.output_lengths(sample_lengths)
        mask = features.sequence_mask(frame_lengths, ops.shape(log_mel)[1])
        return self.cmvn(log_mel, mask=mask)


def test_log_mel_and_cmvn_export_and_serve(tmp_path):
    import tensorflow as tf

    model = FrontEnd()
    rng = np.random.default_rng(0)
    waveforms = rng.uniform(-0.5, 0.5, (3, 2000)).astype("float32")
    sample_lengths = np.array([2000, 1500, 300], "int32")  # the last: no whole frame
    expected = to_numpy(model([waveforms, sample_lengths]))
    path = str(tmp_path / "front_end")
    model.export(
        path,
        input_signature=[
            [tf.TensorSpec((None, None), tf.float32), tf.TensorSpec((None,), tf.int32)]
        ],
        verbose=False,
    )
    restored = tf.saved_model.load(path)
    served = restored.serve([tf.constant(waveforms), tf.constant(sample_lengths)]).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    assert served.shape == (3, 11, 20)
    assert np.all(served[2] == 0.0) and np.all(served[1, 7:] == 0.0)
    # Another batch size and length through the same signature.
    short = restored.serve([tf.constant(waveforms[:1, :1000]), tf.constant([1000])]).numpy()
    np.testing.assert_allclose(
        short, to_numpy(model([waveforms[:1, :1000], np.array([1000])])), rtol=1e-5, atol=1e-5
    )
    assert short.shape == (1, 4, 20)
