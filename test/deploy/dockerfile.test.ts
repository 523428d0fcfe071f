/**
 * Lints deploy/Dockerfile. No container engine runs here, so the image is never built in
 * these tests; instead the file is parsed and held to the rules the chart relies on.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_DIR } from '../helpers/peers.js';
import { copySources, type DockerInstruction, parseDockerfile } from './dockerfile.js';

const DOCKERFILE = join(REPO_DIR, 'deploy', 'Dockerfile');
const dockerfile = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const runtime = dockerfile.stages.at(-1)!;
const chartValues = parse(
  readFileSync(join(REPO_DIR, 'deploy', 'helm', 'phoenix', 'values.yaml'), 'utf8'),
) as { proxy: { port: number; otlpGrpcPort: number }; controlPlane: { port: number } };

function instructionsOf(keyword: string, stage = runtime.instructions): DockerInstruction[] {
  return stage.filter((instruction) => instruction.keyword === keyword);
}

describe('Dockerfile parser', () => {
  const cases: ReadonlyArray<{ name: string; text: string; expected: Partial<DockerInstruction> }> =
    [
      {
        name: 'exec form with flags',
        text: 'FROM a:1\nCOPY --from=build --chown=1:1 /x ./y',
        expected: { keyword: 'COPY', flags: { from: 'build', chown: '1:1' }, args: ['/x', './y'] },
      },
      {
        name: 'continuation lines and a comment inside',
        text: 'FROM a:1\nRUN one \\\n# note\n  && two',
        expected: { keyword: 'RUN', args: ['one', '&&', 'two'], line: 2 },
      },
      {
        name: 'JSON entrypoint',
        text: 'FROM a:1\nENTRYPOINT ["phoenix", "proxy"]',
        expected: { keyword: 'ENTRYPOINT', args: ['phoenix', 'proxy'], execForm: true },
      },
      {
        name: 'ARG default in FROM',
        text: 'ARG BASE=node:20.1.0-slim\nFROM $BASE AS build',
        expected: { keyword: 'FROM', args: ['node:20.1.0-slim', 'AS', 'build'] },
      },
    ];
  for (const { name, text, expected } of cases) {
    it(name, () => {
      const parsed = parseDockerfile(text);
      expect(parsed.instructions.at(-1)).toMatchObject(expected);
    });
  }

  it('refuses a heredoc and an ARG without default in FROM', () => {
    expect(() => parseDockerfile('FROM a:1\nRUN <<EOF\necho\nEOF')).toThrow(/line 2: heredocs/);
    expect(() => parseDockerfile('ARG BASE\nFROM $BASE')).toThrow(/ARG BASE has no default/);
  });
});

describe('deploy/Dockerfile', () => {
  it('builds in one stage and runs from another', () => {
    expect(dockerfile.stages.map((stage) => stage.name)).toEqual(['build', 'runtime']);
  });

  it('pins every base image to a version tag', () => {
    const stageNames = new Set(dockerfile.stages.map((stage) => stage.name));
    for (const stage of dockerfile.stages) {
      if (stageNames.has(stage.image)) continue;
      expect(stage.image, `FROM ${stage.image}`).toMatch(
        /^[^:@]+:[0-9][\w.-]*(@sha256:[a-f0-9]{64})?$/,
      );
      expect(stage.image).not.toMatch(/:latest\b/);
      // Node.js 20 on Debian bookworm: the glibc the uWebSockets.js build needs.
      expect(stage.image).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    }
  });

  it('fetches nothing with ADD', () => {
    for (const add of instructionsOf('ADD', dockerfile.instructions)) {
      for (const source of copySources(add).sources) {
        expect(source, `ADD on line ${add.line}`).not.toMatch(/^(https?|git|ssh):|\.git$/);
      }
    }
  });

  it('copies only paths that exist in the repository and are not in the build context ignore file', () => {
    const ignored = readFileSync(join(REPO_DIR, 'deploy', 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const copies = instructionsOf('COPY', dockerfile.instructions).filter(
      (copy) => copy.flags['from'] === undefined,
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      for (const source of copySources(copy).sources) {
        expect(existsSync(join(REPO_DIR, source)), `COPY ${source} on line ${copy.line}`).toBe(
          true,
        );
        expect(ignored, `${source} is excluded from the build context`).not.toContain(source);
      }
    }
  });

  it('copies every input of `npm run build` into the build stage', () => {
    const buildStage = dockerfile.stages[0]!;
    const copied = new Set(
      instructionsOf('COPY', buildStage.instructions).flatMap((copy) => copySources(copy).sources),
    );
    const tsconfig = JSON.parse(readFileSync(join(REPO_DIR, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    const asconfig = JSON.parse(readFileSync(join(REPO_DIR, 'asconfig.json'), 'utf8')) as {
      entries?: string[];
    };
    // Config files the build scripts name (`asc --config`, `vite build --config ui/...`).
    const manifest = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const scriptConfigs = Object.entries(manifest.scripts)
      .filter(([name]) => name === 'build' || name.startsWith('build:'))
      .flatMap(([, command]) => [...command.matchAll(/--config (\S+)/g)].map((m) => m[1]!));
    expect(scriptConfigs).toContain('asconfig.json');
    const inputs = [...tsconfig.include, ...(asconfig.entries ?? []), ...scriptConfigs].map(
      (pattern) => pattern.split('/')[0]!,
    );
    for (const file of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'asconfig.json',
      ...inputs,
    ]) {
      expect(copied, `build stage lacks ${file}`).toContain(file);
    }
    expect(
      instructionsOf('RUN', buildStage.instructions).map((run) => run.args.join(' ')),
    ).toContainEqual(expect.stringMatching(/npm ci .*npm prune --omit=dev/));
  });

  it('puts only dist/, bin/, production node_modules and package.json in the runtime image', () => {
    const copies = instructionsOf('COPY');
    for (const copy of copies) expect(copy.flags['from'], `line ${copy.line}`).toBe('build');
    expect(copies.flatMap((copy) => copySources(copy).sources).sort()).toEqual([
      '/src/bin',
      '/src/dist',
      '/src/node_modules',
      '/src/package.json',
    ]);
  });

  it('runs as uid 65532, the user the chart runs its pods as, after every RUN', () => {
    const users = instructionsOf('USER');
    expect(users.map((user) => user.args[0])).toEqual(['65532:65532']);
    const lastRun = instructionsOf('RUN').at(-1)!;
    expect(users[0]!.line).toBeGreaterThan(lastRun.line);
    const helpers = readFileSync(
      join(REPO_DIR, 'deploy', 'helm', 'phoenix', 'templates', '_helpers.tpl'),
      'utf8',
    );
    expect(helpers).toMatch(/runAsUser: 65532\n/);
    expect(helpers).toMatch(/readOnlyRootFilesystem: true\n/);
  });

  it('keeps all state in the /var/lib/phoenix volume, the working directory', () => {
    expect(instructionsOf('VOLUME').flatMap((volume) => volume.args)).toEqual(['/var/lib/phoenix']);
    expect(instructionsOf('WORKDIR').at(-1)?.args).toEqual(['/var/lib/phoenix']);
    const run = instructionsOf('RUN').map((instruction) => instruction.args.join(' '));
    expect(run.join('\n')).toMatch(/chown 65532:65532 \/var\/lib\/phoenix/);
  });

  it('starts `phoenix` from bin/phoenix, which exists and runs the built CLI', () => {
    const entrypoint = instructionsOf('ENTRYPOINT');
    expect(entrypoint).toHaveLength(1);
    expect(entrypoint[0]).toMatchObject({ execForm: true, args: ['phoenix'] });
    const run = instructionsOf('RUN').map((instruction) => instruction.args.join(' '));
    expect(run.join('\n')).toMatch(/ln -s \/opt\/phoenix\/bin\/phoenix \/usr\/local\/bin\/phoenix/);
    const launcher = join(REPO_DIR, 'bin', 'phoenix');
    accessSync(launcher, constants.X_OK);
    const text = readFileSync(launcher, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const imported = /from '\.\.\/(dist\/[^']+)\.js'/.exec(text)?.[1];
    expect(imported).toBe('dist/proxy/cli/main');
    expect(existsSync(join(REPO_DIR, 'proxy', 'cli', 'main.ts'))).toBe(true);
  });

  it('exposes the ports the chart uses', () => {
    const exposed = instructionsOf('EXPOSE').flatMap((expose) => expose.args.map(Number));
    expect(exposed.sort()).toEqual(
      [
        chartValues.proxy.port,
        chartValues.proxy.otlpGrpcPort,
        chartValues.controlPlane.port,
      ].sort(),
    );
  });

  it('has no HEALTHCHECK, so the Kubernetes probes are documented with their endpoints', () => {
    // One image serves the proxy and the control plane on different ports, so a fixed
    // HEALTHCHECK would be wrong for one of them; the chart's probes do the job.
    expect(instructionsOf('HEALTHCHECK', dockerfile.instructions)).toEqual([]);
    const readme = readFileSync(join(REPO_DIR, 'deploy', 'README.md'), 'utf8');
    expect(readme).toMatch(/\/healthz/);
    expect(readme).toMatch(/\/readyz/);
  });
});
