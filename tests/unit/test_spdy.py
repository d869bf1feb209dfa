"""The SPDY/3.1 frame and header codec of the v5 translator, against the draft's wire layouts."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from kubeherd.apiserver import spdy


def test_dictionary_is_the_spdy3_one() -> None:
    # the draft gives the dictionary's size and zlib identifies a preset dictionary by its Adler-32
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_control_frame_layout() -> None:
    frame = spdy.rst_stream(5, spdy.CANCEL)
    # C bit + version 3, type 3, flags 0, length 8, stream id, status
    assert frame == bytes.fromhex("80030003" "00000008" "00000005" "00000005")
    assert spdy.ping(2) == bytes.fromhex("80030006" "00000004" "00000002")
    assert spdy.goaway(7) == bytes.fromhex("80030007" "00000008" "00000007" "00000000")


def test_data_frames_carry_fin_and_split_at_the_length_limit() -> None:
    assert spdy.data_frame(3, b"hi") == bytes.fromhex("00000003" "00000002") + b"hi"
    assert spdy.data_frame(3, b"", fin=True) == bytes.fromhex("00000003" "01000000")
    big = b"x" * (spdy.MAX_LENGTH + 10)
    frames = list(spdy.FrameReader().feed(spdy.data_frame(1, big, fin=True)))
    assert [len(f.data) for f in frames if isinstance(f, spdy.DataFrame)] == [spdy.MAX_LENGTH, 10]
    assert [f.fin for f in frames if isinstance(f, spdy.DataFrame)] == [False, True]


def test_frame_reader_reassembles_frames_split_anywhere() -> None:
    wire = spdy.data_frame(1, b"abc") + spdy.ping(4) + spdy.data_frame(3, b"", fin=True)
    reader = spdy.FrameReader()
    frames = [f for i in range(len(wire)) for f in reader.feed(wire[i:i + 1])]  # one byte at a time
    assert frames == [spdy.DataFrame(1, 0, b"abc"), spdy.ControlFrame(spdy.PING, 0, b"\x00\x00\x00\x04"),
                      spdy.DataFrame(3, spdy.FLAG_FIN, b"")]
    assert not reader.buffer


def test_frame_reader_refuses_other_versions() -> None:
    with pytest.raises(spdy.ProtocolError):
        list(spdy.FrameReader().feed(bytes.fromhex("80020001" "00000000")))


def test_syn_stream_header_block_decodes_with_plain_zlib_and_the_dictionary() -> None:
    codec = spdy.HeaderCodec()
    first = spdy.syn_stream(codec, 1, [("streamType", "error")])
    second = spdy.syn_stream(codec, 3, [("streamType", "stdin"), ("X-Multi", "a"), ("x-multi", "b")], fin=True)
    frames = list(spdy.FrameReader().feed(first + second))
    assert [(f.type, f.flags, f.stream_id) for f in frames if isinstance(f, spdy.ControlFrame)] == [
        (spdy.SYN_STREAM, 0, 1), (spdy.SYN_STREAM, spdy.FLAG_FIN, 3)]
    # an independent inflater, one per direction: the second block depends on the first's context
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    blocks = []
    for frame in frames:
        assert isinstance(frame, spdy.ControlFrame)
        assert frame.payload[4:10] == b"\x00" * 6  # no associated stream, priority 0, slot 0
        blocks.append(inflate.decompress(spdy.header_block(frame)))
    assert blocks[0] == struct.pack(">I", 1) + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", 5) + b"error"
    (count,) = struct.unpack_from(">I", blocks[1])
    assert count == 2 and b"x-multi\x00\x00\x00\x03a\x00b" in blocks[1]  # names lower-cased, values NUL-joined


def test_header_codec_round_trip_over_many_blocks() -> None:
    sender, receiver = spdy.HeaderCodec(), spdy.HeaderCodec()
    for i in range(50):
        headers = [("streamtype", "data"), ("port", str(8000 + i)), ("requestid", str(i))]
        assert receiver.decode(sender.encode(headers)) == headers


def test_bad_header_block_is_a_protocol_error() -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderCodec().decode(b"not zlib at all")


def test_client_session_against_a_scripted_server() -> None:
    """A server that replies to both streams, echoes stdin to stdout, pings, and resets error."""

    async def scenario() -> tuple[bytes, bytes, list[bytes], list[bool]]:
        seen: list[bytes] = []

        async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            codec, frames = spdy.HeaderCodec(), spdy.FrameReader()
            streams: dict[str, int] = {}
            while data := await reader.read(65536):
                for frame in frames.feed(data):
                    if isinstance(frame, spdy.ControlFrame) and frame.type == spdy.SYN_STREAM:
                        headers = dict(codec.decode(spdy.header_block(frame)))
                        streams[headers["streamtype"]] = frame.stream_id
                        reply = struct.pack(">I", frame.stream_id) + codec.encode([])
                        writer.write(spdy.control_frame(spdy.SYN_REPLY, 0, reply))
                        if len(streams) == 3:
                            writer.write(spdy.ping(2))
                    elif isinstance(frame, spdy.ControlFrame) and frame.type == spdy.PING:
                        seen.append(frame.payload)
                    elif isinstance(frame, spdy.DataFrame) and frame.stream_id == streams["stdin"]:
                        writer.write(spdy.data_frame(streams["stdout"], frame.data.upper(), fin=frame.fin))
                        if frame.fin:
                            writer.write(spdy.data_frame(streams["error"], b"status"))
                            writer.write(spdy.rst_stream(streams["error"], spdy.CANCEL))
            writer.close()

        listener = await asyncio.start_server(server, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        session = spdy.ClientSession(reader, writer)
        running = asyncio.ensure_future(session.run())
        error = await session.open_stream([("streamType", "error")])
        stdin = await session.open_stream([("streamType", "stdin")])
        stdout = await session.open_stream([("streamType", "stdout")])
        await stdin.write(b"hello ")
        await stdin.write(b"world")
        await stdin.close()
        out = b""
        while data := await stdout.read():
            out += data
        status = b""
        while data := await error.read():
            status += data
        await session.close()
        await running
        listener.close()
        return out, status, seen, [error.lost, stdout.lost, stdin.lost]

    out, status, pings, lost = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert out == b"HELLO WORLD"  # stdin's FIN reached the server, stdout's FIN ended the read
    assert status == b"status"  # a reset stream still delivers what came before it
    assert pings == [b"\x00\x00\x00\x02"]  # the server's ping came back
    assert lost == [False, False, True]  # only stdin, which the server never ended, ended with the connection
