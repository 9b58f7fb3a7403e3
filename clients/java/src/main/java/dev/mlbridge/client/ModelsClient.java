package dev.mlbridge.client;

import dev.mlbridge.v1.DeleteModelRequest;
import dev.mlbridge.v1.ExportModelRequest;
import dev.mlbridge.v1.ExportModelResponse;
import dev.mlbridge.v1.GetModelRequest;
import dev.mlbridge.v1.ImportModelHeader;
import dev.mlbridge.v1.ImportModelRequest;
import dev.mlbridge.v1.ListModelsRequest;
import dev.mlbridge.v1.ModelFormat;
import dev.mlbridge.v1.ModelInfo;
import dev.mlbridge.v1.ModelKind;
import dev.mlbridge.v1.ModelServiceGrpc;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.List;

/**
 * The server's model store (ModelService): {@link MlBridgeClient#models()}. Lists, describes,
 * deletes, exports and imports stored models of every kind.
 *
 * <pre>{@code
 * for (ModelInfo m : client.models().list()) System.out.println(m.getName());
 * client.models().export("ner", Path.of("ner.crfsuite"));
 * }</pre>
 */
public final class ModelsClient {
  private final Rpc rpc;
  private final ModelServiceGrpc.ModelServiceBlockingStub blocking;
  private final ModelServiceGrpc.ModelServiceStub async;

  ModelsClient(Rpc rpc) {
    this.rpc = rpc;
    this.blocking = ModelServiceGrpc.newBlockingStub(rpc.channel);
    this.async = ModelServiceGrpc.newStub(rpc.channel);
  }

  /** All stored models, sorted by name. */
  public List<ModelInfo> list() {
    return list(ModelKind.MODEL_KIND_UNSPECIFIED);
  }

  /** Stored models of one kind, sorted by name. */
  public List<ModelInfo> list(ModelKind kind) {
    ListModelsRequest request = ListModelsRequest.newBuilder().setKind(kind).build();
    return rpc.call(() -> List.copyOf(rpc.stub(blocking).listModels(request).getModelsList()));
  }

  /** Describes a model; {@link ModelNotFoundException} when there is none of that name. */
  public ModelInfo get(String name) {
    GetModelRequest request = GetModelRequest.newBuilder().setName(name).build();
    return rpc.call(() -> rpc.stub(blocking).getModel(request).getModel());
  }

  /** Deletes a model from the store. */
  public void delete(String name) {
    DeleteModelRequest request = DeleteModelRequest.newBuilder().setName(name).build();
    rpc.call(() -> rpc.stub(blocking).deleteModel(request));
  }

  /**
   * Writes a model's bytes to {@code file}; returns its description. The file name picks the format
   * as XGBoost's {@code save_model} does: {@code .json} is XGBoost JSON, {@code .ubj} UBJ, any
   * other name the model's stored format.
   */
  public ModelInfo export(String name, Path file) {
    return export(name, formatOfFileName(file), file);
  }

  /** The format a file name asks for: {@code .json} JSON, {@code .ubj} UBJ, else unspecified. */
  static ModelFormat formatOfFileName(Path file) {
    Path last = file.getFileName();
    String n = last == null ? "" : last.toString().toLowerCase(java.util.Locale.ROOT);
    if (n.endsWith(".json")) return ModelFormat.MODEL_FORMAT_XGBOOST_JSON;
    if (n.endsWith(".ubj")) return ModelFormat.MODEL_FORMAT_XGBOOST_UBJ;
    return ModelFormat.MODEL_FORMAT_UNSPECIFIED;
  }

  /**
   * Writes a model's bytes in {@code format} to {@code file}, replacing it only once the whole
   * model has arrived; returns the model's description.
   */
  public ModelInfo export(String name, ModelFormat format, Path file) {
    ExportModelRequest request =
        ExportModelRequest.newBuilder().setName(name).setFormat(format).build();
    Path absolute = file.toAbsolutePath();
    Path dir = absolute.getParent();
    Path tmp = null;
    try {
      tmp = Files.createTempFile(dir, "." + absolute.getFileName(), ".part");
      ModelInfo info = null;
      try (OutputStream out = Files.newOutputStream(tmp)) {
        Iterator<ExportModelResponse> it = rpc.stub(blocking).exportModel(request);
        while (it.hasNext()) {
          ExportModelResponse r = it.next();
          if (r.hasModel() && info == null) {
            info = r.getModel();
          }
          r.getChunk().writeTo(out);
        }
      } catch (StatusRuntimeException e) {
        throw StatusMapping.map(e, rpc.target);
      }
      Files.move(
          tmp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
      return info == null ? ModelInfo.getDefaultInstance() : info;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort: a leftover .part file is harmless
        }
      }
    }
  }

  /** Uploads a model file (format detected) under {@code name}. */
  public ModelInfo importModel(String name, ModelKind kind, Path file) {
    return importModel(ImportModelHeader.newBuilder().setName(name).setKind(kind).build(), file);
  }

  /** Uploads a model file with a full header (format, class names, feature template). */
  public ModelInfo importModel(ImportModelHeader header, Path file) {
    try (FileChunks chunks = new FileChunks(file, MlBridgeClient.CHUNK_SIZE)) {
      return rpc.upload(
              rpc.stub(async)::importModel,
              Rpc.prepend(
                  ImportModelRequest.newBuilder().setHeader(header).build(),
                  Rpc.map(chunks, c -> ImportModelRequest.newBuilder().setChunk(c).build())))
          .getModel();
    }
  }
}
