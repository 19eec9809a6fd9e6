#!/usr/bin/env node
/** The `restore-drill` executable. */
import { main } from './commands.js';

// testcontainers' reaper (Ryuk) is an image that cannot be pulled everywhere, and the
// harness removes its own containers; it talks to Docker on this host by name.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

process.exitCode = await main(process.argv.slice(2));
