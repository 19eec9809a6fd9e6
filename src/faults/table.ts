/** The tables a fault can act on: the dataset's and the workload's ledger. */
import { DATASET_TABLES, LEDGER_TABLE } from '../dataset/schema.js';
import { oneOf } from '../support/fields.js';

export const table = oneOf([...DATASET_TABLES, LEDGER_TABLE]);
