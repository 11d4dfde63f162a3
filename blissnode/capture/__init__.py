"""
Decoding whole captures (pcap, pcapng) for researchers: ``blissnode decode
pcap``.

The package sits on top of :mod:`blissnode.wire` and, like it, does no I/O
of its own beyond reading the capture file object it is handed:

* :mod:`~blissnode.capture.readers` -- pcap and pcapng files to frames;
* :mod:`~blissnode.capture.frames` -- frames to TCP segments and UDP datagrams;
* :mod:`~blissnode.capture.reassembly` -- TCP segments back to byte streams;
* :mod:`~blissnode.capture.classify` -- what a TCP flow is, from its first bytes;
* :mod:`~blissnode.capture.peer_streams`, :mod:`~blissnode.capture.server_streams`,
  :mod:`~blissnode.capture.dh_opening` -- the stream decoders;
* :mod:`~blissnode.capture.udp_datagrams` -- datagrams and their keying addresses;
* :mod:`~blissnode.capture.annotate` -- commands as JSON, learned addresses;
* :mod:`~blissnode.capture.tcp_flows`, :mod:`~blissnode.capture.decoder` --
  flows and the whole capture; :mod:`~blissnode.capture.events` -- the output.
"""

from blissnode.capture.decoder import CaptureDecoder, DecodeHints, Survey, decode_capture
from blissnode.capture.readers import CaptureFormatError, Frame, read_frames

__all__ = ["CaptureDecoder", "DecodeHints", "Survey", "decode_capture", "CaptureFormatError",
           "Frame", "read_frames"]
