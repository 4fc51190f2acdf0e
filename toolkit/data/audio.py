"""Mono waveforms from RIFF WAV and NIST SPHERE files, resampled on request.

`read_waveform(path)` returns a float32 waveform in [-1, 1] and its sample
rate. RIFF / RIFX / RF64 WAV files are read here, as `scipy.io.wavfile` reads
them (integer PCM of any depth - 8-bit unsigned, 16, 24, 32 bit - and 32 /
64-bit float, also as WAVE_FORMAT_EXTENSIBLE; other chunks such as `LIST` are
skipped), but with every chunk checked against the bytes the file holds
first: a file cut short or with an inconsistent header is a `DataError`
naming the file (scipy raised `struct.error` for a header cut inside the fmt
chunk, and read a data chunk longer than the file as far as it went). NIST
SPHERE files (the `.WAV` files of the TIMIT distribution, header `NIST_1A`)
are read directly when they hold uncompressed 16-bit PCM, and rejected
otherwise with a hint to convert them (`sph2pipe -f wav` or
`sox in.sph out.wav`). Multi-channel audio is an error: speech corpora are
mono, and a silent down-mix could hide a wrong file. A sample rate above
1 MHz (`MAX_SAMPLE_RATE`) is taken for a corrupt header. Resampling uses
`scipy.signal.resample_poly` (polyphase, with its default Kaiser-window
anti-aliasing filter); `rescale_sample` maps a sample index to the new rate.
"""

import math
import struct

import numpy as np

from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.files import read_bytes

MAX_SAMPLE_RATE = 1_000_000
_SPHERE_MAGIC = b"NIST_1A"
_RIFF_MAGICS = (b"RIFF", b"RIFX", b"RF64")
_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MPEG Layer III",
}
# The last 12 bytes of the sub-format GUID of WAVE_FORMAT_EXTENSIBLE, whose first 4
# bytes are the format tag (RFC 2361); its first three groups are in the file's byte order.
_GUID_TAILS = {
    "<": b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71",
    ">": b"\x00\x00\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71",
}
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
        DataError: the file is empty, not RIFF WAV or SPHERE, cut short
            (inside its header or its samples), has an inconsistent header
            (chunk sizes, channels, a sample rate outside 1 Hz to 1 MHz, bits
            per sample), is compressed or not 16-bit SPHERE, has more than one
            channel, holds non-finite float samples or no samples, or is at
            another rate with `resample=False`; each message names the file
            and what it holds.
        ValueError: a bad `sample_rate` argument.

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
    data = read_bytes(path)
    if not data:
        raise data_error(path, None, "is empty (0 bytes): expected a RIFF WAV or SPHERE file")
    if data.startswith(_SPHERE_MAGIC):
        waveform, rate = _read_sphere(path, data)
    elif data[:4] in _RIFF_MAGICS:
        waveform, rate = _read_riff(path, data)
    else:
        raise data_error(
            path,
            None,
            "is neither a RIFF WAV file (starting with b'RIFF') nor a NIST SPHERE file "
            f"(starting with b'NIST_1A'). Received: a file starting with {data[:8]!r}",
        )
    if rate > MAX_SAMPLE_RATE:
        raise data_error(
            path,
            None,
            f"has the sample rate {rate} Hz, expected at most {MAX_SAMPLE_RATE} Hz (no audio "
            "format in use goes above 768 kHz: a corrupt header?)",
        )
    if waveform.shape[0] == 0:
        raise data_error(path, None, f"holds no samples (0 samples at {rate} Hz)")
    return waveform, rate


# === RIFF WAV ===


def _read_riff(path, data):
    """Mono samples of a RIFF / RIFX / RF64 file and its rate (see `_riff_chunks`)."""
    order, (code, channels, rate, width), (offset, size) = _riff_chunks(path, data)
    if channels != 1:
        raise data_error(
            path,
            None,
            f"has {channels} channels, expected mono (1 channel). Convert it, e.g. "
            "`sox in.wav -c 1 out.wav`",
        )
    count = size // width  # whole samples; a cut last one is left out
    raw = data[offset : offset + count * width]
    if code == _WAVE_FORMAT_IEEE_FLOAT:
        waveform = np.frombuffer(raw, f"{order}f{width}").astype(np.float32)
        finite = np.isfinite(waveform)
        if not finite.all():
            raise data_error(
                path,
                None,
                f"holds {int(np.sum(~finite))} non-finite samples (NaN or inf, or beyond the "
                "float32 range)",
            )
        return waveform, rate
    if width == 1:  # 8-bit WAV samples are unsigned around 128
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0, rate
    if width not in (2, 4, 8):
        # 3, 5, 6 or 7 bytes: left-justified into the next NumPy integer, as scipy does.
        wide = 4 if width == 3 else 8
        padded = np.zeros((count, wide), np.uint8)
        columns = slice(wide - width, wide) if order == "<" else slice(0, width)
        padded[:, columns] = np.frombuffer(raw, np.uint8).reshape(count, width)
        values, width = padded.view(f"{order}i{wide}").reshape(count), wide
    else:
        values = np.frombuffer(raw, f"{order}i{width}")
    scale = float(2 ** (8 * width - 1))
    return (values.astype(np.float64) / scale).astype(np.float32), rate


def _riff_chunks(path, data):
    """`(byte order, fmt fields, (data offset, data size))` of a RIFF / RIFX / RF64 file.

    Walks the chunks up to the size the RIFF header gives, as `scipy.io.wavfile`
    does, but checks each one against the bytes the file holds before reading
    it: a cut or inconsistent header is a `DataError` naming the file, never a
    `struct.error` or a short read passed off as the whole signal.
    """
    magic, length = data[:4], len(data)
    order = ">" if magic == b"RIFX" else "<"
    if length < 12:
        raise data_error(
            path,
            None,
            f"is cut short inside its RIFF header: {length} bytes, expected at least 12 "
            f"({magic!r}, the file size, b'WAVE')",
        )
    if data[8:12] != b"WAVE":
        raise data_error(
            path,
            None,
            f"is a RIFF file of the form {data[8:12]!r}, expected b'WAVE' (a WAV file)",
        )
    position, rf64_data_size = 12, None
    if magic == b"RF64":
        if length < 36:
            raise data_error(
                path,
                None,
                f"is cut short inside its RF64 header: {length} bytes, expected at least 36 "
                "(the ds64 chunk with the 64-bit sizes)",
            )
        ds64_size = struct.unpack("<I", data[16:20])[0]
        if data[12:16] != b"ds64" or ds64_size < 16:
            raise data_error(
                path,
                None,
                "is an RF64 file without a ds64 chunk of at least 16 bytes after b'WAVE'. "
                f"Received: {data[12:16]!r} of {ds64_size} bytes",
            )
        riff_end = struct.unpack("<Q", data[20:28])[0] + 8
        rf64_data_size = struct.unpack("<Q", data[28:36])[0]
        position = 20 + ds64_size + ds64_size % 2
    else:
        riff_end = struct.unpack(order + "I", data[4:8])[0] + 8
    fmt, samples_at, chunks = None, None, []
    while position < min(riff_end, length):
        if position + 8 > length:
            raise data_error(
                path,
                None,
                f"is cut short inside the header of a chunk at byte {position} (the file "
                f"holds {length} bytes, its RIFF header gives {riff_end})",
            )
        chunk_id = data[position : position + 4]
        size = struct.unpack(order + "I", data[position + 4 : position + 8])[0]
        if chunk_id == b"data" and rf64_data_size is not None and size == 0xFFFFFFFF:
            size = rf64_data_size
        body, held = position + 8, length - position - 8
        chunks.append(chunk_id)
        if chunk_id == b"fmt ":
            if fmt is not None:
                raise data_error(path, None, "holds two fmt chunks, expected one")
            if size < 16:
                raise data_error(
                    path, None, f"has a fmt chunk of {size} bytes, expected at least 16"
                )
            if size > held:
                raise data_error(
                    path,
                    None,
                    f"is cut short inside its fmt chunk: the chunk gives {size} bytes, the "
                    f"file holds {held} after the chunk header",
                )
            fmt = _fmt_fields(path, data[body : body + size], order)
        elif chunk_id == b"data":
            if fmt is None:
                raise data_error(
                    path, None, f"has its data chunk (at byte {position}) before the fmt chunk"
                )
            if samples_at is not None:
                raise data_error(path, None, "holds two data chunks, expected one")
            if size > held:
                raise data_error(
                    path,
                    None,
                    f"is a truncated WAV file (Reached EOF prematurely: its data chunk gives "
                    f"{size} bytes, the file holds {held} after the chunk header)",
                )
            samples_at = (body, size)
        elif size > held:
            raise data_error(
                path,
                None,
                f"is cut short inside its {chunk_id!r} chunk at byte {position}: the chunk "
                f"gives {size} bytes, the file holds {held} after the chunk header",
            )
        position = body + size + size % 2
    if position < riff_end and position >= length:
        if samples_at is None:
            raise data_error(
                path,
                None,
                f"is cut short: it ends at byte {length} with no data chunk (its RIFF header "
                f"gives {riff_end} bytes). Chunks found: {chunks}",
            )
        raise data_error(
            path,
            None,
            f"is a truncated WAV file (Reached EOF prematurely: its RIFF header gives "
            f"{riff_end} bytes, the file holds {length})",
        )
    if fmt is None or samples_at is None:
        missing = "fmt" if fmt is None else "data"
        within = ""
        if riff_end < length:
            within = f" within the {riff_end} bytes its RIFF header gives (the file holds {length})"
        raise data_error(path, None, f"has no {missing} chunk{within}. Chunks found: {chunks}")
    return order, fmt, samples_at


def _fmt_fields(path, body, order):
    """`(format, channels, rate, bytes per sample)` of a fmt chunk, checked."""
    code, channels, rate, byte_rate, block_align, bits = struct.unpack(order + "HHIIHH", body[:16])
    if code == _WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40 or struct.unpack(order + "H", body[16:18])[0] < 22:
            raise data_error(
                path,
                None,
                f"has a WAVE_FORMAT_EXTENSIBLE fmt chunk of {len(body)} bytes, expected 40 "
                "(with the 22-byte extension naming the sub-format)",
            )
        guid = body[24:40]
        if not guid.endswith(_GUID_TAILS[order]):
            raise data_error(
                path,
                None,
                f"has a WAVE_FORMAT_EXTENSIBLE sub-format that is not a known one. "
                f"Received: {guid.hex()}",
            )
        code = struct.unpack(order + "I", guid[:4])[0]
    if code not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_IEEE_FLOAT):
        name = _FORMAT_NAMES.get(code, "unknown")
        raise data_error(
            path,
            None,
            f"holds samples in the format {code:#06x} ({name}), expected integer PCM (0x0001) "
            "or IEEE float (0x0003). Convert it, e.g. `sox in.wav -e signed-integer out.wav`",
        )
    if channels < 1:
        raise data_error(path, None, f"has {channels} channels in its fmt chunk, expected 1")
    if rate < 1:
        raise data_error(
            path, None, f"has the sample rate {rate} Hz in its fmt chunk, expected a positive rate"
        )
    if block_align < channels or block_align % channels:
        raise data_error(
            path,
            None,
            f"has a block size (nBlockAlign) of {block_align} bytes for {channels} channel(s) "
            "in its fmt chunk, expected a whole number of bytes per channel",
        )
    width = block_align // channels
    if code == _WAVE_FORMAT_PCM:
        fits = 1 <= bits <= 8 and width == 1 or 8 < bits <= 8 * width and width <= 8
        if not fits:
            raise data_error(
                path,
                None,
                f"has {bits} bits per sample in {width}-byte samples in its fmt chunk, expected "
                "1 to 8 bits in 1 byte, or 9 to 64 bits in 2 to 8 bytes",
            )
        if byte_rate != rate * block_align:
            raise data_error(
                path,
                None,
                f"has an inconsistent fmt chunk: the byte rate (nAvgBytesPerSec) {byte_rate} "
                f"is not the sample rate {rate} times the block size {block_align}",
            )
    elif (bits, width) not in ((32, 4), (64, 8)):
        raise data_error(
            path,
            None,
            f"has {bits} bits per float sample in {width}-byte samples in its fmt chunk, "
            "expected 32 or 64 bits",
        )
    return code, channels, rate, width


# === NIST SPHERE ===


def _read_sphere(path, data):
    """Uncompressed 16-bit PCM from a NIST SPHERE file (TIMIT's `.WAV`)."""
    lines = data[:1024].split(b"\n")
    if len(lines) < 3:  # the header size line is not ended
        raise data_error(
            path,
            None,
            f"is a NIST SPHERE file cut short before the end of its header size line "
            f"({len(data)} bytes). Received: {data[:32]!r}",
        )
    minimum = len(lines[0]) + len(lines[1]) + 2
    try:
        header_size = int(lines[1].strip())
    except ValueError:
        header_size = None
    if header_size is None or header_size < minimum:
        raise data_error(
            path,
            2,
            f"is a NIST SPHERE file with a bad header size, expected a number of bytes of at "
            f"least {minimum} (usually 1024). Received: {lines[1]!r}",
        )
    if header_size > len(data):
        raise data_error(
            path,
            None,
            f"is a NIST SPHERE file cut short inside its header: the header size is "
            f"{header_size} bytes, the file holds {len(data)}",
        )
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
            path,
            None,
            f"has the channel_count {channels!r} (NIST SPHERE), expected mono (1 channel)",
        )
    try:
        rate = float(fields["sample_rate"])
    except (KeyError, ValueError):
        rate = None
    if rate is None or not math.isfinite(rate) or rate < 1:
        raise data_error(
            path,
            None,
            "is a NIST SPHERE file without a usable sample_rate field (a positive number of "
            f"Hz). Received: {fields.get('sample_rate')!r}; {_CONVERT_HINT}",
        )
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
        try:
            expected = int(fields["sample_count"])
        except ValueError:
            expected = -1
        if expected < 0:
            raise data_error(
                path,
                None,
                "is a NIST SPHERE file whose sample_count field is not a non-negative integer. "
                f"Received: {fields['sample_count']!r}",
            )
        if expected > count:
            raise data_error(
                path,
                None,
                f"is a truncated NIST SPHERE file: the header gives {expected} samples, "
                f"the file holds {count}",
            )
        count = expected
    samples = np.frombuffer(body[: 2 * count], dtype="<i2" if order == "01" else ">i2")
    return (samples.astype(np.float32) / 32768.0).astype(np.float32), int(rate)
