/** Arrow IPC format constants shared by the frame writer and the verifier (Schema.fbs / Message.fbs). */

/** MessageHeader union: Schema. */
export const MESSAGE_HEADER_SCHEMA = 1;
/** MessageHeader union: RecordBatch. */
export const MESSAGE_HEADER_RECORD_BATCH = 3;
/** MetadataVersion V5. */
export const METADATA_V5 = 4;
/** Type union ids. */
export const TYPE_INT = 2;
export const TYPE_FLOAT = 3;
export const TYPE_FIXED_SIZE_LIST = 16;
/** FloatingPoint.precision values by index. */
export const PRECISIONS = ["half", "single", "double"] as const;
/** The 0xFFFFFFFF marker before every encapsulated message and the end of stream. */
export const CONTINUATION = 0xffffffff;
