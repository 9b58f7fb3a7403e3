package dev.mlbridge.client;

import com.google.protobuf.ByteString;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;

/** A file's bytes in chunks, read lazily as an upload sends them. Closes itself at the end. */
final class FileChunks implements Iterator<ByteString>, Closeable {
  private final Path path;
  private final InputStream in;
  private final int chunkSize;
  private ByteString next;
  private boolean eof;

  /** Opens {@code path} now, so a missing file fails before any call starts. */
  FileChunks(Path path, int chunkSize) {
    this.path = path;
    this.chunkSize = chunkSize;
    try {
      this.in = Files.newInputStream(path);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
    }
  }

  @Override
  public boolean hasNext() {
    if (next == null && !eof) {
      try {
        byte[] buf = in.readNBytes(chunkSize);
        if (buf.length == 0) {
          eof = true;
          in.close();
        } else {
          next = ByteString.copyFrom(buf);
        }
      } catch (IOException e) {
        eof = true;
        close();
        throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
      }
    }
    return next != null;
  }

  @Override
  public ByteString next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    ByteString chunk = next;
    next = null;
    return chunk;
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException ignored) {
      // nothing was written; closing a read stream cannot lose data
    }
  }
}
