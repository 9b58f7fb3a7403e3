package dev.mlbridge.client;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test (or a test class) that reproduces the book's own files ({@link TestPaths#book()}):
 * it runs when they are there and is reported as skipped, with the reason, when they are not
 * ({@link TestPaths#hasBook()} then prints one line saying so). Every other test runs on the
 * project's own data ({@link TestPaths#data()}).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(BookData.Condition.class)
@interface BookData {

  /** Enables the marked tests only when the book's files are there. */
  final class Condition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      return TestPaths.hasBook()
          ? ConditionEvaluationResult.enabled("the book's data is at " + TestPaths.book())
          : ConditionEvaluationResult.disabled(
              "reproduces the book's own files, which are not at "
                  + TestPaths.shared().resolve("data").resolve("book")
                  + " (set MLBRIDGE_SHARED to the folder holding data/book)");
    }
  }
}
