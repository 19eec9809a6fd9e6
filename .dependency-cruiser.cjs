/**
 * The arrows of the house (docs/development.md), checked on every `npm test`
 * (test/architecture.test.ts). Type-only imports count: they are knowledge too.
 *
 *   cli → drill → { faults, recovery, checks } → backup → engines → { pg, dataset, workload } → { model, support, exec, errors }
 *   report and history read the journal (model) only; evidence needs support only.
 */
const not = (folders) => `^src/(${folders.join('|')})(/|\\.ts$)`;

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A cycle makes two modules one.', from: {}, to: { circular: true } },
    {
      name: 'support-is-ground',
      severity: 'error',
      comment: 'support/ holds plain helpers: clocks, units, hashes, cleanup. It knows nothing of the project.',
      from: { path: '^src/support/' },
      to: { path: '^src/', pathNot: '^src/support/' },
    },
    {
      name: 'model-is-ground',
      severity: 'error',
      comment: 'model/ is the shared vocabulary: types and pure rules over them, no I/O, nothing above it.',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/(model|support)/|^src/errors\\.ts$' },
    },
    {
      name: 'exec-is-ground',
      severity: 'error',
      from: { path: '^src/exec/' },
      to: { path: '^src/', pathNot: '^src/(exec|model|support)/|^src/errors\\.ts$' },
    },
    {
      name: 'pg-knows-no-drill',
      severity: 'error',
      comment: 'pg/ is PostgreSQL knowledge: clients, settings, WAL, archives. No engine, drill or fault in it.',
      from: { path: '^src/pg/' },
      to: { path: not(['engines', 'backup', 'faults', 'recovery', 'checks', 'drill', 'report', 'history', 'evidence', 'cli', 'dataset', 'workload']) },
    },
    {
      name: 'dataset-and-workload-below-engines',
      severity: 'error',
      from: { path: '^src/(dataset|workload)/' },
      to: { path: not(['engines', 'backup', 'faults', 'recovery', 'checks', 'drill', 'report', 'history', 'evidence', 'cli']) },
    },
    {
      name: 'engines-are-ground',
      severity: 'error',
      comment: 'An engine starts and stops instances; it knows no backup method, fault, procedure or check.',
      from: { path: '^src/engines/' },
      to: { path: not(['backup', 'faults', 'recovery', 'checks', 'drill', 'report', 'history', 'evidence', 'cli', 'dataset', 'workload']) },
    },
    {
      name: 'one-engine-factory',
      severity: 'error',
      comment: 'Only engines/index.ts knows the concrete engines; everything else uses engines/types.ts.',
      from: { path: '^src/', pathNot: '^src/engines/' },
      to: { path: '^src/engines/(native|docker|shared)/' },
    },
    {
      name: 'native-and-docker-apart',
      severity: 'error',
      comment: 'What the engines share lives in engines/shared/.',
      from: { path: '^src/engines/(native|docker)/' },
      to: { path: '^src/engines/(native|docker)/', pathNot: '^src/engines/$1/' },
    },
    {
      name: 'parts-are-ground',
      severity: 'error',
      comment: 'A part of the system (Redis, files, secrets) runs its own runbook; it knows no PostgreSQL drill, and reports facts for checks/ to judge. It shares the seeded PRNG.',
      from: { path: '^src/parts/' },
      to: { path: '^src/', pathNot: '^src/(parts|model|support|exec)/|^src/errors\\.ts$|^src/dataset/prng\\.ts$' },
    },
    {
      name: 'backup-below-faults',
      severity: 'error',
      from: { path: '^src/backup/' },
      to: { path: not(['faults', 'recovery', 'checks', 'drill', 'report', 'history', 'evidence', 'cli']) },
    },
    {
      name: 'nemesis-is-not-checker',
      severity: 'error',
      comment: 'A fault reports what it did and saw; it neither recovers nor judges.',
      from: { path: '^src/faults/' },
      to: { path: not(['recovery', 'checks', 'drill', 'report', 'history', 'evidence', 'cli']) },
    },
    {
      name: 'cure-is-not-nemesis',
      severity: 'error',
      comment: 'A procedure knows what a fault left (typed facts in model/), never the fault module.',
      from: { path: '^src/recovery/' },
      to: { path: not(['faults', 'checks', 'drill', 'report', 'history', 'evidence', 'cli']) },
    },
    {
      name: 'checks-judge-facts',
      severity: 'error',
      comment: 'Checks turn facts into verdicts; they run nothing a drill does.',
      from: { path: '^src/checks/' },
      to: { path: not(['engines', 'backup', 'faults', 'recovery', 'drill', 'report', 'history', 'evidence', 'cli']) },
    },
    {
      name: 'drill-below-cli',
      severity: 'error',
      from: { path: '^src/drill/' },
      to: { path: not(['cli']) },
    },
    {
      name: 'report-reads-the-journal',
      severity: 'error',
      comment: 'Reports are views of the journal (model/) and the history; they run nothing.',
      from: { path: '^src/report/' },
      to: { path: '^src/', pathNot: '^src/(report|model|support|history)/|^src/errors\\.ts$' },
    },
    {
      name: 'history-and-evidence-are-stores',
      severity: 'error',
      from: { path: '^src/(history|evidence)/' },
      to: { path: '^src/', pathNot: '^src/(history|evidence|model|support)/|^src/errors\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
