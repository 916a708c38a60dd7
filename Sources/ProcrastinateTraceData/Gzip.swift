import CZlib
import ProcrastinateConventions

/// gzip both ways, through zlib: the one binding of it. The OTLP/HTTP exporter compresses
/// request bodies (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`); the dashboard's receiver inflates
/// those sent with `Content-Encoding: gzip` (or `deflate`).
package enum Gzip {
  package struct Failure: ProcrastinateError, CustomStringConvertible {
    package let description: String
  }

  /// `bytes` as one gzip member, at zlib's default level.
  package static func compress(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
    var stream = z_stream()
    // 15 window bits, + 16: write a gzip header and trailer.
    guard
      deflateInit2_(
        &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
        Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw Failure(description: "zlib could not start compressing") }
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))))
    var input = bytes
    let (result, written) = input.withUnsafeMutableBufferPointer { inputBuffer in
      output.withUnsafeMutableBufferPointer { outputBuffer in
        stream.next_in = inputBuffer.baseAddress
        stream.avail_in = UInt32(inputBuffer.count)
        stream.next_out = outputBuffer.baseAddress
        stream.avail_out = UInt32(outputBuffer.count)
        // deflateBound leaves room for the whole stream: one call finishes it.
        return (deflate(&stream, Z_FINISH), outputBuffer.count - Int(stream.avail_out))
      }
    }
    guard result == Z_STREAM_END else {
      throw Failure(description: "zlib could not compress the body (error \(result))")
    }
    output.removeSubrange(written...)
    return output
  }

  /// The inflated bytes of a gzip or zlib stream, refused beyond `limit` bytes so that a
  /// small body cannot inflate into gigabytes.
  package static func inflate(_ compressed: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
    var stream = z_stream()
    // 15 window bits, + 32: detect a gzip or a zlib header.
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw Failure(description: "zlib could not start inflating") }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    var input = compressed
    let status: Int32 = input.withUnsafeMutableBufferPointer { inputBuffer in
      stream.next_in = inputBuffer.baseAddress
      stream.avail_in = UInt32(inputBuffer.count)
      while true {
        let result = chunk.withUnsafeMutableBufferPointer { chunkBuffer -> Int32 in
          stream.next_out = chunkBuffer.baseAddress
          stream.avail_out = UInt32(chunkBuffer.count)
          return CZlib.inflate(&stream, Z_NO_FLUSH)
        }
        let produced = chunk.count - Int(stream.avail_out)
        output.append(contentsOf: chunk[0..<produced])
        if output.count > limit { return Z_MEM_ERROR }
        if result == Z_STREAM_END { return Z_OK }
        if result != Z_OK { return result }
        if stream.avail_in == 0 && produced == 0 { return Z_BUF_ERROR }
      }
    }
    switch status {
    case Z_OK: return output
    case Z_MEM_ERROR where output.count > limit:
      throw Failure(description: "the body inflates to more than \(limit) bytes")
    case Z_BUF_ERROR: throw Failure(description: "the compressed body is truncated")
    default:
      let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
      throw Failure(description: "the body is not valid gzip: \(message)")
    }
  }
}
