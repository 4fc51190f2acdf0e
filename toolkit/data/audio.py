"""Mono waveforms from RIFF WAV and NIST SPHERE files, resampled on request.

`read_waveform(path)` returns a float32 waveform in [-1, 1] and its sample
rate. RIFF / RIFX / RF64 WAV files are read with `scipy.io.wavfile` (integer
PCM of any depth - 8-bit unsigned, 16, 24, 32 bit - and 32 / 64-bit float);
NIST SPHERE files (the `.WAV` files of the TIMIT distribution, header
`NIST_1A`) are read directly when they hold uncompressed 16-bit PCM, and
rejected otherwise with a hint to convert them (`sph2pipe -f wav` or
`sox in.sph out.wav`). Multi-channel audio is an error: speech corpora are
mono, and a silent down-mix could hide a wrong file. Resampling uses
`scipy.signal.resample_poly` (polyphase, with its default Kaiser-window
anti-aliasing filter); `rescale_sample` maps a sample index to the new rate.
"""

import math
import warnings

import numpy as np

from toolkit.data.text import check_path
from toolkit.data.text import data_error

_SPHERE_MAGIC = b"NIST_1A"
_RIFF_MAGICS = (b"RIFF", b"RIFX", b"RF64")
_CONVERT_HINT = (
    "convert it to RIFF WAV, e.g. `sph2pipe -f wav in.WAV out.wav` or `sox in.WAV out.wav`"
)


def read_waveform(path, sample_rate=None, resample=True):
    """Reads a mono waveform from a RIFF WAV or NIST SPHERE file.

    Integer samples are scaled to [-1, 1) (`x / 2**(bits - 1)`, 8-bit
    unsigned around 128); float samples are kept as they are. A file at
    another rate than `sample_rate` is resampled with
    `scipy.signal.resample_poly` to `ceil(n * sample_rate / rate)` samples
    (values may then overshoot [-1, 1] slightly), or rejected when
    `resample=False`.

    Args:
        path: Path (string or path-like) of a `.wav` file: RIFF WAV (PCM
            integer or float), or NIST SPHERE holding uncompressed 16-bit PCM.
        sample_rate: `None` (default: keep the file's rate) or a positive
            integer, the rate in Hz to return.
        resample: Boolean (default `True`): resample a file at another rate
            than `sample_rate`; when `False`, such a file is an error.

    Returns:
        A tuple `(waveform, rate)`: a float32 NumPy array `(samples,)` and the
        integer sample rate in Hz of that array.

    Raises:
        ValueError: the file is empty, not RIFF WAV or SPHERE, compressed or
            not 16-bit SPHERE, has more than one channel, holds no samples, or
            is at another rate with `resample=False`; each message names the
            file and what it holds.

    Example:

    >>> import os, shutil, tempfile, wave
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "tone.wav")
    >>> samples = (np.sin(np.arange(800) / 5) * 16000).astype("<i2")
    >>> with wave.open(path, "wb") as file:
    ...     file.setnchannels(1)
    ...     file.setsampwidth(2)
    ...     file.setframerate(8000)
    ...     file.writeframes(samples.tobytes())
    >>> waveform, rate = read_waveform(path)
    >>> waveform.dtype, waveform.shape, rate
    (dtype('float32'), (800,), 8000)
    >>> waveform, rate = read_waveform(path, sample_rate=16000)
    >>> waveform.shape, rate
    ((1600,), 16000)
    >>> shutil.rmtree(folder)
    """
    path = check_path(path)
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate)
    waveform, rate = read_native(path)
    return conform_rate(path, waveform, rate, sample_rate, resample), sample_rate or rate


def conform_rate(path, waveform, rate, sample_rate, resample):
    """`waveform` (read from `path` at `rate`) at `sample_rate`: resampled, or an error."""
    if sample_rate is None or rate == sample_rate:
        return waveform
    if not resample:
        raise data_error(
            path,
            None,
            f"has the sample rate {rate} Hz, expected {sample_rate} Hz (argument "
            f"`sample_rate`). Pass resample=True to resample it, or sample_rate={rate}. "
            f"Received: rate={rate}, sample_rate={sample_rate}, resample=False",
        )
    return resample_waveform(waveform, rate, sample_rate)


def check_sample_rate(sample_rate, argument_name="sample_rate"):
    """Returns `sample_rate` as an int; a `ValueError` unless it is a positive integer."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise ValueError(
            f"Argument `{argument_name}` expected a positive integer (Hz). "
            f"Received: {argument_name}={sample_rate!r}"
        )
    if sample_rate <= 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a positive integer (Hz). "
            f"Received: {argument_name}={sample_rate!r}"
        )
    return int(sample_rate)


def resample_waveform(waveform, rate, sample_rate):
    """`waveform` at `rate` resampled to `sample_rate` (float32, `ceil(n * new / old)` samples)."""
    from scipy.signal import resample_poly

    divisor = math.gcd(rate, sample_rate)
    up, down = sample_rate // divisor, rate // divisor
    return resample_poly(waveform, up, down).astype(np.float32)


def rescale_sample(sample, rate, sample_rate):
    """Sample index `sample` at `rate` mapped to `sample_rate`, rounded half up."""
    return (2 * sample * sample_rate + rate) // (2 * rate)


def read_native(path):
    """`(waveform, rate)` of a mono RIFF WAV or SPHERE file at its own rate."""
    try:
        with open(path, "rb") as file:
            head = file.read(8)
    except OSError as error:
        raise data_error(path, None, f"cannot be read ({error.strerror or error})") from None
    if not head:
        raise data_error(path, None, "is empty (0 bytes): expected a RIFF WAV or SPHERE file")
    if head.startswith(_SPHERE_MAGIC):
        waveform, rate = _read_sphere(path)
    elif head[:4] in _RIFF_MAGICS:
        waveform, rate = _read_riff(path)
    else:
        raise data_error(
            path,
            None,
            "is neither a RIFF WAV file (starting with b'RIFF') nor a NIST SPHERE file "
            f"(starting with b'NIST_1A'). Received: a file starting with {head!r}",
        )
    if waveform.shape[0] == 0:
        raise data_error(path, None, f"holds no samples (0 samples at {rate} Hz)")
    return waveform, rate


def _read_riff(path):
    from scipy.io import wavfile

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", wavfile.WavFileWarning)  # unknown chunks (LIST, ...)
            rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError) as error:
        raise data_error(path, None, f"is not a readable WAV file ({error})") from None
    for warning in caught:  # scipy reads a cut data chunk as far as it goes, with a warning
        if "EOF prematurely" in str(warning.message):
            raise data_error(path, None, f"is a truncated WAV file ({warning.message})")
    if data.ndim == 2:
        if data.shape[1] != 1:
            raise data_error(
                path,
                None,
                f"has {data.shape[1]} channels, expected mono (1 channel). Convert it, e.g. "
                "`sox in.wav -c 1 out.wav`",
            )
        data = data[:, 0]
    return _to_float(path, data), int(rate)


def _to_float(path, data):
    if data.dtype == np.uint8:
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if np.issubdtype(data.dtype, np.signedinteger):
        # scipy returns integer PCM left-justified in the smallest fitting type (24 -> int32).
        return (data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))).astype(
            np.float32
        )
    if np.issubdtype(data.dtype, np.floating):
        return data.astype(np.float32)
    raise data_error(path, None, f"holds samples of an unsupported type {data.dtype}")


def _read_sphere(path):
    """Uncompressed 16-bit PCM from a NIST SPHERE file (TIMIT's `.WAV`)."""
    with open(path, "rb") as file:
        data = file.read()
    lines = data[:1024].split(b"\n")
    try:
        header_size = int(lines[1])
    except (IndexError, ValueError):
        raise data_error(
            path, 2, f"is a NIST SPHERE file with a bad header size. Received: {lines[1:2]!r}"
        ) from None
    fields = {}
    for line in data[:header_size].split(b"\n")[2:]:
        parts = line.decode("ascii", errors="replace").split(None, 2)
        if parts and parts[0] == "end_head":
            break
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    coding = fields.get("sample_coding", "pcm")
    width = fields.get("sample_n_bytes", "2")
    channels = fields.get("channel_count", "1")
    if coding != "pcm" or width != "2":
        raise data_error(
            path,
            None,
            "is a NIST SPHERE file that is not uncompressed 16-bit PCM "
            f"(sample_coding={coding!r}, sample_n_bytes={width!r}); {_CONVERT_HINT}",
        )
    if channels != "1":
        raise data_error(
            path, None, f"has {channels} channels (NIST SPHERE), expected mono (1 channel)"
        )
    try:
        rate = int(float(fields["sample_rate"]))
    except (KeyError, ValueError):
        raise data_error(
            path,
            None,
            "is a NIST SPHERE file without a usable sample_rate field. "
            f"Received: {fields.get('sample_rate')!r}; {_CONVERT_HINT}",
        ) from None
    order = fields.get("sample_byte_format", "01")
    if order not in ("01", "10"):
        raise data_error(
            path,
            None,
            f"is a NIST SPHERE file with the byte format {order!r}, expected '01' (little "
            f"endian) or '10' (big endian); {_CONVERT_HINT}",
        )
    body = data[header_size:]
    count = len(body) // 2
    if "sample_count" in fields:
        expected = int(fields["sample_count"])
        if expected * 2 > len(body):
            raise data_error(
                path,
                None,
                f"is a truncated NIST SPHERE file: the header gives {expected} samples, "
                f"the file holds {count}",
            )
        count = expected
    samples = np.frombuffer(body[: 2 * count], dtype="<i2" if order == "01" else ">i2")
    return (samples.astype(np.float32) / 32768.0).astype(np.float32), rate
