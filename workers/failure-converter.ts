/**
 * The failure converter of every custody client and worker, named by path in the data converter (the SDK loads
 * it in the worker and bundles it into the workflow code): failure messages and stack traces travel in the
 * failure's encoded attributes, which the payload codec encrypts, instead of in clear. Workflow code imports it,
 * so it must stay free of Node built-ins.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
