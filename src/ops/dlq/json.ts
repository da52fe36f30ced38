/** A JSON value: a dead letter's payload and what the edits make of it. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
