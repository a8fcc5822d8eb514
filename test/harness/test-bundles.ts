/**
 * Workflow bundles only tests use, built by global-setup.ts beside the real one (webpack cannot run inside
 * jest's module sandbox): the real workflows plus a fault-injecting interceptor (reset tests), and a
 * deliberately reordered lifecycle (the replay gate's self-check). Each takes about 2 s.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../workers/temporal-connection';

export async function buildTestOnlyBundles(
  dataDir: string,
  logger: BundleOptions['logger'],
  webpackConfigHook: NonNullable<BundleOptions['webpackConfigHook']>,
): Promise<Record<'CUSTODY_TEST_FAULTY_WORKFLOW_BUNDLE' | 'CUSTODY_TEST_REORDERED_WORKFLOW_BUNDLE', string>> {
  const faulty = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules: [require.resolve('./fault-injection-interceptors')],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    webpackConfigHook,
    ...(logger && { logger }),
  });
  const reordered = await bundleWorkflowCode({
    workflowsPath: require.resolve('./reordered-lifecycle-workflow'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(logger && { logger }),
  });
  const faultyPath = path.join(dataDir, 'workflow-bundle-fault-injection.js');
  const reorderedPath = path.join(dataDir, 'workflow-bundle-reordered.js');
  writeFileSync(faultyPath, faulty.code);
  writeFileSync(reorderedPath, reordered.code);
  return {
    CUSTODY_TEST_FAULTY_WORKFLOW_BUNDLE: faultyPath,
    CUSTODY_TEST_REORDERED_WORKFLOW_BUNDLE: reorderedPath,
  };
}
