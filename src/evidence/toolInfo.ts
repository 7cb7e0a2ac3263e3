// The tool's name and version as the package declares them, for the evidence's metadata.

import packageJson from '../../package.json';

export const TOOL = { name: packageJson.name, version: packageJson.version } as const;
