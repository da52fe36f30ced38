import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, OrderbusError, errorMessage } from '../../errors.js';
import { cacheDir } from '../../paths.js';
import { commandExists, execFileAsync } from './processes.js';

/**
 * Kafka and the schema registry come from Maven Central, resolved once into a cache outside the
 * work tree. A `.complete` marker makes a half-finished download count as missing.
 */
function kafkaPom(version: string): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>orderbus.stack</groupId><artifactId>kafka-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${version}</version>
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
`;
}

export async function requireJavaAndMaven(needMaven: boolean): Promise<void> {
  if (!(await commandExists('java'))) {
    throw new OrderbusError(
      'JAVA_MISSING',
      'java was not found on PATH; Kafka and the schema registry need Java 17+',
      {
        hint: 'apt-get install -y openjdk-17-jre-headless, then orderbus stack up',
      },
    );
  }
  if (needMaven && !(await commandExists('mvn'))) {
    throw new OrderbusError(
      'MAVEN_MISSING',
      'mvn was not found on PATH; it resolves the Kafka and registry jars from Maven Central once',
      {
        hint: 'apt-get install -y maven, then orderbus stack up',
      },
    );
  }
}

async function mvn(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('mvn', ['-q', '-B', ...args], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60 * 1000,
    });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    const detail = `${out.stdout ?? ''}${out.stderr ?? ''}`
      .split('\n')
      .filter((l) => l.includes('ERROR'))
      .slice(0, 5)
      .join('\n');
    throw new OrderbusError('MAVEN_FAILED', `mvn ${args[0] ?? ''} failed: ${detail || errorMessage(e)}`, {
      hint: 'check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml), then orderbus stack up',
      exitCode: ExitCode.error,
      cause: e,
    });
  }
}

/** Directory holding every jar Kafka's broker and tools need. */
export async function ensureKafkaJars(version: string, log: (s: string) => void): Promise<string> {
  const dir = join(cacheDir(), `kafka-${version}`);
  const libs = join(dir, 'libs');
  if (existsSync(join(dir, '.complete'))) return libs;
  await requireJavaAndMaven(true);
  log(`resolving Apache Kafka ${version} jars from Maven Central (once) into ${libs}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pom.xml'), kafkaPom(version));
  await mvn(['dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`], dir);
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return libs;
}

/** Path of the Apicurio Registry runner jar. */
export async function ensureRegistry(version: string, log: (s: string) => void): Promise<string> {
  const dir = join(cacheDir(), `apicurio-registry-${version}`);
  const jar = join(dir, 'app', `apicurio-registry-app-${version}-runner.jar`);
  if (existsSync(join(dir, '.complete')) && existsSync(jar)) return jar;
  await requireJavaAndMaven(true);
  log(`resolving Apicurio Registry ${version} from Maven Central (once) into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'app'), { recursive: true });
  writeFileSync(
    join(dir, 'pom.xml'),
    kafkaPom('unused').replace(/<dependencies>[\s\S]*<\/dependencies>/, ''),
  );
  await mvn(
    [
      'dependency:copy',
      `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`,
      `-DoutputDirectory=${dir}`,
    ],
    dir,
  );
  const archive = readdirSync(dir).find((f) => f.endsWith('.tar.gz'));
  if (!archive)
    throw new OrderbusError(
      'REGISTRY_ARCHIVE_MISSING',
      `Maven did not produce the Apicurio archive in ${dir}`,
      { hint: 'orderbus stack up' },
    );
  await execFileAsync('tar', ['xzf', join(dir, archive), '-C', join(dir, 'app')]);
  rmSync(join(dir, archive));
  if (!existsSync(jar))
    throw new OrderbusError('REGISTRY_ARCHIVE_MISSING', `the Apicurio archive has no ${jar}`, {
      hint: 'orderbus stack up',
    });
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return jar;
}
