#!/usr/bin/env node
/** The `restore-drill` executable. */
import { main } from './commands.js';

process.exitCode = await main(process.argv.slice(2));
