import CZlib
import Procrastinate

/// Inflates request bodies sent with `Content-Encoding: gzip` (or `deflate`), through zlib.
enum Gzip {
  struct Failure: ProcrastinateError, CustomStringConvertible {
    let description: String
  }

  /// The inflated bytes of a gzip or zlib stream, refused beyond `limit` bytes so that a
  /// small body cannot inflate into gigabytes.
  static func inflate(_ compressed: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
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
