/** The word count, importable without the native addon (the Lambda bundles only this). */
export { countWords, countsToObject, WordCounter, type WordCounts } from "./wordcount";
export { MlBridgeError, InvalidInputError } from "../errors";
