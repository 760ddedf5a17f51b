// zokio::io: Tokio-style I/O utilities over any Asio stream (sockets, SSL streams, pipes):
// buffered reader and writer, read_exact / read_to_end / write_all, copy and
// copy_bidirectional, split halves, and line / length-delimited framing as streams and sinks.
// Guide: doc/io.md.
#ifndef ZOKIO_IO_HPP
#define ZOKIO_IO_HPP

#include <zokio/io/async_stream.hpp>
#include <zokio/io/buffered_reader.hpp>
#include <zokio/io/buffered_writer.hpp>
#include <zokio/io/codec.hpp>
#include <zokio/io/copy.hpp>
#include <zokio/io/framed.hpp>
#include <zokio/io/read_write.hpp>
#include <zokio/io/split.hpp>

#endif
