package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.mlbridge.v1.CrfLabelledSequences;
import dev.mlbridge.v1.CrfPackedSequences;
import dev.mlbridge.v1.CrfPackedTags;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/** {@link ItemSequence}s to the packed wire form and packed tags back, without a server. */
class CrfPackingTest {

  @Test
  void packsNamesNulTerminatedWithCountsAndLengths() {
    Map<String, Double> weighted = new LinkedHashMap<>();
    weighted.put("lemma=london", 1.0);
    weighted.put("shape=Xx", 0.5);
    List<ItemSequence> sequences =
        List.of(
            ItemSequence.of(List.of(List.of("a", "é"), List.of())),
            ItemSequence.builder().build(),
            ItemSequence.ofWeighted(List.of(weighted)));
    CrfPackedSequences p = CrfPacking.pack(sequences, "sequences");
    assertEquals(
        ByteString.copyFrom("a\0é\0lemma=london\0shape=Xx\0", StandardCharsets.UTF_8),
        p.getAttributeNames());
    assertEquals(List.of(2, 0, 2), p.getItemAttributeCountsList());
    assertEquals(List.of(2, 0, 1), p.getSequenceLengthsList());
    assertEquals(
        List.of(1.0, 1.0, 1.0, 0.5),
        p.getAttributeWeightsList(),
        "one weight per attribute when any is not 1.0");

    CrfPackedSequences ones = CrfPacking.pack(sequences.subList(0, 2), "sequences");
    assertEquals(0, ones.getAttributeWeightsCount(), "no weights when every one is 1.0");
    assertTrue(CrfPacking.pack(List.of(), "sequences").getAttributeNames().isEmpty());
  }

  @Test
  void whatTheWireFormCannotCarryIsRefusedWithItsPosition() {
    ItemSequence ok = ItemSequence.of(List.of(List.of("x")));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CrfPacking.pack(
                    List.of(ok, ok, ItemSequence.of(List.of(List.of("x"), List.of("y", "a\0b")))),
                    "sequences"));
    assertEquals(
        "sequences[2][1]: an attribute name must hold no NUL character, got \"a\\u0000b\"",
        e.getMessage());

    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CrfPacking.pack(
                    List.of(ItemSequence.of(List.of(List.of("ok", "\ud800x")))), "batches[3]"));
    assertTrue(
        e.getMessage().startsWith("batches[3][0][0]: an attribute name must be valid Unicode"),
        e.getMessage());

    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CrfPacking.pack(Arrays.asList(ok, null), "sequences"));
    assertEquals("sequences[1]: null instead of a sequence", e.getMessage());
  }

  @Test
  void emptyNamesAndNonFiniteWeightsAreLeftToTheServer() {
    // The server checks them once, naming the position (CrfTest.theServerRefusesBadData).
    ItemSequence s =
        ItemSequence.builder().item(List.of("", "y"), new double[] {1.0, Double.NaN}).build();
    CrfPackedSequences p = CrfPacking.pack(List.of(s), "sequences");
    assertEquals(ByteString.copyFrom("\0y\0", StandardCharsets.UTF_8), p.getAttributeNames());
    assertEquals(List.of(1.0, Double.NaN), p.getAttributeWeightsList());
    CrfLabelledSequences b =
        batches(List.of(ItemSequence.of(List.of(List.of("x"))).withLabels(List.of("")))).get(0);
    assertEquals(List.of(""), b.getLabelsList());
  }

  @Test
  void trainingSequencesNeedOneLabelPerItem() {
    ItemSequence items = ItemSequence.of(List.of(List.of("a"), List.of("b")));
    ItemSequence good = items.withLabels(List.of("O", "B-geo"));
    assertEquals(
        "sequences[1]: 2 items but 1 labels",
        assertThrows(
                IllegalArgumentException.class,
                () -> batches(List.of(good, items.withLabels(List.of("O")))))
            .getMessage());
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> batches(List.of(good, good, items)))
            .getMessage()
            .startsWith("sequences[2]: no labels"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> batches(List.of(items.withLabels(List.of("O", "\udc00")))))
            .getMessage()
            .startsWith("sequences[0][1]: a label must be valid Unicode"));

    List<CrfLabelledSequences> one = batches(List.of(good, good));
    assertEquals(1, one.size());
    assertEquals(List.of("O", "B-geo", "O", "B-geo"), one.get(0).getLabelsList());
    assertEquals(List.of(2, 2), one.get(0).getSequences().getSequenceLengthsList());
    assertTrue(batches(List.of()).isEmpty(), "no sequences, no batch");
  }

  @Test
  void batchesCloseAt64KiAttributesOrItems() {
    // 1000 attributes per sequence: 65,536 reached with the 66th (66,000).
    List<String> names = new ArrayList<>();
    for (int a = 0; a < 1000; a++) {
      names.add("f" + a);
    }
    ItemSequence wide = ItemSequence.builder().item(names).labels(List.of("O")).build();
    assertEquals(List.of(66, 66, 18), sequenceCounts(batches(Collections.nCopies(150, wide))));
    // One sequence larger than a batch goes alone.
    List<String> many = new ArrayList<>();
    for (int a = 0; a < 70_000; a++) {
      many.add("f" + a);
    }
    ItemSequence huge = ItemSequence.builder().item(many).labels(List.of("O")).build();
    assertEquals(List.of(1, 1, 2), sequenceCounts(batches(List.of(huge, huge, wide, wide))));
    // Items without attributes: the item count closes the batch.
    ItemSequence empty = ItemSequence.builder().item().labels(List.of("O")).build();
    assertEquals(List.of(65_536, 1), sequenceCounts(batches(Collections.nCopies(65_537, empty))));
  }

  @Test
  void packedTagsBecomeTaggedSequences() {
    List<String> labels = List.of("O", "B-geo", "B-tim");
    CrfPackedTags tags =
        CrfPackedTags.newBuilder()
            .addAllLabelIndices(List.of(0, 1, 2))
            .addAllProbabilities(List.of(0.25, 1.0))
            .addAllMarginals(List.of(0.5, 0.3, 0.2, 0.1, 0.8, 0.1, 0.0, 0.0, 1.0))
            .build();
    List<TaggedSequence> out = CrfPacking.unpack(tags, labels, List.of(2, 0, 1), false, false);
    assertEquals(
        List.of(List.of("O", "B-geo"), List.of(), List.of("B-tim")),
        out.stream().map(TaggedSequence::labels).toList());
    assertTrue(out.stream().allMatch(t -> t.probability().isEmpty() && t.marginals().isEmpty()));

    tags =
        tags.toBuilder().clearProbabilities().addAllProbabilities(List.of(0.25, 1.0, 0.5)).build();
    out = CrfPacking.unpack(tags, labels, List.of(2, 0, 1), true, true);
    assertEquals(OptionalDouble.of(0.25), out.get(0).probability());
    assertEquals(OptionalDouble.of(1.0), out.get(1).probability());
    assertEquals(2, out.get(0).marginals().size());
    assertEquals(
        List.of("O", "B-geo", "B-tim"),
        List.copyOf(out.get(0).marginals().get(1).keySet()),
        "the model's label order");
    assertEquals(0.8, out.get(0).marginals().get(1).get("B-geo"));
    assertEquals(Map.of("O", 0.0, "B-geo", 0.0, "B-tim", 1.0), out.get(2).marginals().get(0));
    assertFalse(out.get(1).probability().isEmpty());
  }

  @Test
  void tagsThatDoNotFitTheRequestAreAnInternalError() {
    List<String> labels = List.of("O", "B-geo");
    CrfPackedTags tags = CrfPackedTags.newBuilder().addAllLabelIndices(List.of(0, 1)).build();
    MlBridgeException e =
        assertThrows(
            MlBridgeException.class,
            () -> CrfPacking.unpack(tags, labels, List.of(3), false, false));
    assertEquals(Status.Code.INTERNAL, e.getStatusCode());
    assertThrows(
        MlBridgeException.class, () -> CrfPacking.unpack(tags, labels, List.of(2), true, false));
    assertThrows(
        MlBridgeException.class, () -> CrfPacking.unpack(tags, labels, List.of(2), false, true));
    CrfPackedTags outside = CrfPackedTags.newBuilder().addAllLabelIndices(List.of(0, 2)).build();
    e =
        assertThrows(
            MlBridgeException.class,
            () -> CrfPacking.unpack(outside, labels, List.of(2), false, false));
    assertTrue(e.getMessage().contains("label index 2 of item 1"), e.getMessage());
  }

  @Test
  void itemSequencesAreValues() {
    ItemSequence a =
        ItemSequence.builder().item("x", "y").item(List.of("z"), new double[] {0.5}).build();
    ItemSequence b =
        ItemSequence.builder()
            .item(List.of("x", "y"), new double[] {1.0, 1.0})
            .item(Map.of("z", 0.5))
            .build();
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertEquals(2, a.size());
    assertEquals(List.of("x", "y"), a.attributeNames(0));
    assertEquals(0.5, a.attributeWeights(1)[0]);
    assertFalse(a.hasLabels());
    ItemSequence labelled = a.withLabels(List.of("O", "B-geo"));
    assertTrue(labelled.hasLabels());
    assertFalse(labelled.equals(a));
    assertEquals(a, labelled.withoutLabels());
    assertEquals("ItemSequence[{x, y}:O, {z=0.5}:B-geo]", labelled.toString());
    assertThrows(NullPointerException.class, () -> ItemSequence.builder().item("x", null));
    assertThrows(
        IllegalArgumentException.class,
        () -> ItemSequence.builder().item(List.of("x"), new double[0]));
  }

  private static List<CrfLabelledSequences> batches(List<ItemSequence> sequences) {
    List<CrfLabelledSequences> out = new ArrayList<>();
    for (Iterator<CrfLabelledSequences> it = CrfPacking.labelledBatches(sequences, "sequences");
        it.hasNext(); ) {
      out.add(it.next());
    }
    return out;
  }

  private static List<Integer> sequenceCounts(List<CrfLabelledSequences> batches) {
    return batches.stream().map(b -> b.getSequences().getSequenceLengthsCount()).toList();
  }
}
