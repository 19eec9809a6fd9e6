/** The version text of each client tool, asked once per instance: every recorded command names the binary that ran. */
import type { PgTool } from '../../pg/versions.js';

export class ToolVersions {
  private readonly known = new Map<PgTool, Promise<string>>();

  constructor(private readonly ask: (tool: PgTool) => Promise<string>) {}

  of(tool: PgTool): Promise<string> {
    let version = this.known.get(tool);
    if (!version) {
      version = this.ask(tool);
      this.known.set(tool, version);
      // A failed question is asked again next time rather than remembered.
      version.catch(() => this.known.delete(tool));
    }
    return version;
  }
}
