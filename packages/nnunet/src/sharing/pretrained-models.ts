/**
 * The pretrained models nnU-Net v1 published (v1's get_available_models in
 * nnunet/inference/pretrained_models/download_pretrained_model.py): task name, description and
 * download URL(s). Several tasks have more than one archive (one per trainer variant); all of
 * them are installed. `urlIsList` keeps whether v1 stored a single string or a tuple, which its
 * `--export` JSON shows.
 */
export interface PretrainedModel {
  task: string;
  description: string;
  urls: readonly string[];
  urlIsList: boolean;
}

/** v1's reminder printed before downloading one of its published models. */
export const LICENSE_WARNING =
  '\n######################################################\n' +
  '!!!!!!!!!!!!!!!!!!!!!!!!WARNING!!!!!!!!!!!!!!!!!!!!!!!\n' +
  '######################################################\n' +
  'Using the pretrained model weights is subject to the license of the dataset they were trained on. Some ' +
  "allow commercial use, others don't. It is your responsibility to make sure you use them appropriately! " +
  'See the description printed by nnUNet_print_available_pretrained_models for the dataset and its license.\n' +
  '######################################################\n\n';

export const PRETRAINED_MODELS: readonly PretrainedModel[] = [
  {
    task: 'Task001_BrainTumour',
    description:
      'Brain Tumor Segmentation. \nSegmentation targets are edema, enhancing tumor and necrosis, \nInput modalities are 0: FLAIR, 1: T1, 2: T1 with contrast agent, 3: T2. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task001_BrainTumour.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task002_Heart',
    description:
      'Left Atrium Segmentation. \nSegmentation target is the left atrium, \nInput modalities are 0: MRI. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task002_Heart.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task003_Liver',
    description:
      'Liver and Liver Tumor Segmentation. \nSegmentation targets are liver and tumors, \nInput modalities are 0: abdominal CT scan. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task003_Liver.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task004_Hippocampus',
    description:
      'Hippocampus Segmentation. \nSegmentation targets posterior and anterior parts of the hippocampus, \nInput modalities are 0: MRI. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task004_Hippocampus.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task005_Prostate',
    description:
      'Prostate Segmentation. \nSegmentation targets are peripheral and central zone, \nInput modalities are 0: T2, 1: ADC. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4485926/files/Task005_Prostate.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task006_Lung',
    description:
      'Lung Nodule Segmentation. \nSegmentation target are lung nodules, \nInput modalities are 0: abdominal CT scan. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task006_Lung.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task007_Pancreas',
    description:
      'Pancreas Segmentation. \nSegmentation targets are pancras and pancreas tumor, \nInput modalities are 0: abdominal CT scan. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task007_Pancreas.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task008_HepaticVessel',
    description:
      'Hepatic Vessel Segmentation. \nSegmentation targets are hepatic vesels and liver tumors, \nInput modalities are 0: abdominal CT scan. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task008_HepaticVessel.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task009_Spleen',
    description:
      'Spleen Segmentation. \nSegmentation target is the spleen, \nInput modalities are 0: abdominal CT scan. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task009_Spleen.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task010_Colon',
    description:
      'Colon Cancer Segmentation. \nSegmentation target are colon caner primaries, \nInput modalities are 0: CT scan. \nAlso see Medical Segmentation Decathlon, http://medicaldecathlon.com/',
    urls: ['https://zenodo.org/record/4003545/files/Task010_Colon.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task017_AbdominalOrganSegmentation',
    description:
      'Multi-Atlas Labeling Beyond the Cranial Vault - Abdomen. \nSegmentation targets are thirteen different abdominal organs, \nInput modalities are 0: abdominal CT scan. \nAlso see https://www.synapse.org/#!Synapse:syn3193805/wiki/217754',
    urls: ['https://zenodo.org/record/4003545/files/Task017_AbdominalOrganSegmentation.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task024_Promise',
    description:
      'Prostate MR Image Segmentation 2012. \nSegmentation target is the prostate, \nInput modalities are 0: T2. \nAlso see https://promise12.grand-challenge.org/',
    urls: ['https://zenodo.org/record/4003545/files/Task024_Promise.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task027_ACDC',
    description:
      'Automatic Cardiac Diagnosis Challenge. \nSegmentation targets are right ventricle, left ventricular cavity and left myocardium, \nInput modalities are 0: cine MRI. \nAlso see https://acdc.creatis.insa-lyon.fr/',
    urls: ['https://zenodo.org/record/4003545/files/Task027_ACDC.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task029_LiTS',
    description:
      'Liver and Liver Tumor Segmentation Challenge. \nSegmentation targets are liver and liver tumors, \nInput modalities are 0: abdominal CT scan. \nAlso see https://competitions.codalab.org/competitions/17094',
    urls: ['https://zenodo.org/record/4003545/files/Task029_LITS.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task035_ISBILesionSegmentation',
    description:
      'Longitudinal multiple sclerosis lesion segmentation Challenge. \nSegmentation target is MS lesions, \ninput modalities are 0: FLAIR, 1: MPRAGE, 2: proton density, 3: T2. \nAlso see https://smart-stats-tools.org/lesion-challenge',
    urls: ['https://zenodo.org/record/4003545/files/Task035_ISBILesionSegmentation.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task038_CHAOS_Task_3_5_Variant2',
    description:
      'CHAOS - Combined (CT-MR) Healthy Abdominal Organ Segmentation Challenge (Task 3 & 5). \nSegmentation targets are left and right kidney, liver, spleen, \nInput modalities are 0: T1 in-phase, T1 out-phase, T2 (can be any of those)\nAlso see https://chaos.grand-challenge.org/',
    urls: ['https://zenodo.org/record/4003545/files/Task038_CHAOS_Task_3_5_Variant2.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task048_KiTS_clean',
    description:
      'Kidney and Kidney Tumor Segmentation Challenge. Segmentation targets kidney and kidney tumors, Input modalities are 0: abdominal CT scan. Also see https://kits19.grand-challenge.org/',
    urls: ['https://zenodo.org/record/4003545/files/Task048_KiTS_clean.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task055_SegTHOR',
    description:
      'SegTHOR: Segmentation of THoracic Organs at Risk in CT images. \nSegmentation targets are aorta, esophagus, heart and trachea, \nInput modalities are 0: CT scan. \nAlso see https://competitions.codalab.org/competitions/21145',
    urls: ['https://zenodo.org/record/4003545/files/Task055_SegTHOR.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task061_CREMI',
    description:
      'MICCAI Challenge on Circuit Reconstruction from Electron Microscopy Images (Synaptic Cleft segmentation task). \nSegmentation target is synaptic clefts, \nInput modalities are 0: serial section transmission electron microscopy of neural tissue. \nAlso see https://cremi.org/',
    urls: ['https://zenodo.org/record/4003545/files/Task061_CREMI.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task075_Fluo_C3DH_A549_ManAndSim',
    description:
      'Fluo-C3DH-A549-SIM and Fluo-C3DH-A549 datasets of the cell tracking challenge. Segmentation target are C3DH cells in fluorescence microscopy images.\nInput modalities are 0: fluorescence_microscopy\nAlso see http://celltrackingchallenge.net/',
    urls: ['https://zenodo.org/record/4003545/files/Task075_Fluo_C3DH_A549_ManAndSim.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task076_Fluo_N3DH_SIM',
    description:
      'Fluo-N3DH-SIM dataset of the cell tracking challenge. Segmentation target are N3DH cells and cell borders in fluorescence microscopy images.\nInput modalities are 0: fluorescence_microscopy\nAlso see http://celltrackingchallenge.net/\nNote that the segmentation output of the models are cell center and cell border. These outputs mus tbe converted to an instance segmentation for the challenge. \nSee https://github.com/MIC-DKFZ/nnUNet/blob/master/nnunet/dataset_conversion/Task076_Fluo_N3DH_SIM.py',
    urls: ['https://zenodo.org/record/4003545/files/Task076_Fluo_N3DH_SIM.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task082_BraTS2020',
    description:
      'Brain tumor segmentation challenge 2020 (BraTS)\nSegmentation targets are 0: background, 1: edema, 2: necrosis, 3: enhancing tumor\nInput modalities are 0: T1, 1: T1ce, 2: T2, 3: FLAIR (MRI images)\nAlso see https://www.med.upenn.edu/cbica/brats2020/',
    urls: [
      'https://zenodo.org/record/4635763/files/Task082_nnUNetTrainerV2__nnUNetPlansv2.1_5fold.zip?download=1',
      'https://zenodo.org/record/4635763/files/Task082_nnUNetTrainerV2BraTSRegions_DA3_BN_BD__nnUNetPlansv2.1_bs5_5fold.zip?download=1',
      'https://zenodo.org/record/4635763/files/Task082_nnUNetTrainerV2BraTSRegions_DA4_BN__nnUNetPlansv2.1_bs5_15fold.zip?download=1',
      'https://zenodo.org/record/4635763/files/Task082_nnUNetTrainerV2BraTSRegions_DA4_BN_BD__nnUNetPlansv2.1_bs5_5fold.zip?download=1',
    ],
    urlIsList: true,
  },
  {
    task: 'Task089_Fluo-N2DH-SIM_thickborder_time',
    description:
      'Fluo-N2DH-SIM dataset of the cell tracking challenge. Segmentation target are nuclei of N2DH cells and cell borders in fluorescence microscopy images.\nInput modalities are 0: t minus 4, 0: t minus 3, 0: t minus 2, 0: t minus 1, 0: frame of interest\nNote that the input channels are different time steps from a time series acquisition\nNote that the segmentation output of the models are cell center and cell border. These outputs mus tbe converted to an instance segmentation for the challenge. \nSee https://github.com/MIC-DKFZ/nnUNet/blob/master/nnunet/dataset_conversion/Task089_Fluo-N2DH-SIM.py\nAlso see http://celltrackingchallenge.net/',
    urls: ['https://zenodo.org/record/4003545/files/Task089_Fluo-N2DH-SIM_thickborder_time.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task114_heart_MNMs',
    description:
      'Cardiac MRI short axis images from the M&Ms challenge 2020.\nInput modalities are 0: MRI \nSee also https://www.ub.edu/mnms/ \nNote: Labels of the M&Ms Challenge are not in the same order as for the ACDC challenge. \nSee https://github.com/MIC-DKFZ/nnUNet/blob/master/nnunet/dataset_conversion/Task114_heart_mnms.py',
    urls: ['https://zenodo.org/record/4288464/files/Task114_heart_MNMs.zip?download=1'],
    urlIsList: false,
  },
  {
    task: 'Task115_COVIDSegChallenge',
    description:
      'Covid lesion segmentation in CT images. Data originates from COVID-19-20 challenge.\nPredicted labels are 0: background, 1: covid lesion\nInput modalities are 0: CT \nSee also https://covid-segmentation.grand-challenge.org/',
    urls: [
      'https://zenodo.org/record/4635822/files/Task115_nnUNetTrainerV2_DA3__nnUNetPlans_v2.1__3d_fullres__10folds.zip?download=1',
      'https://zenodo.org/record/4635822/files/Task115_nnUNetTrainerV2_DA3_BN__nnUNetPlans_v2.1__3d_fullres__10folds.zip?download=1',
      'https://zenodo.org/record/4635822/files/Task115_nnUNetTrainerV2_ResencUNet__nnUNetPlans_FabiansResUNet_v2.1__3d_fullres__10folds.zip?download=1',
      'https://zenodo.org/record/4635822/files/Task115_nnUNetTrainerV2_ResencUNet_DA3__nnUNetPlans_FabiansResUNet_v2.1__3d_fullres__10folds.zip?download=1',
      'https://zenodo.org/record/4635822/files/Task115_nnUNetTrainerV2_ResencUNet_DA3_BN__nnUNetPlans_FabiansResUNet_v2.1__3d_lowres__10folds.zip?download=1',
    ],
    urlIsList: true,
  },
  {
    task: 'Task135_KiTS2021',
    description:
      'Kidney and kidney tumor segmentation in CT images. Data originates from KiTS2021 challenge.\nPredicted labels are 0: background, 1: kidney, 2: tumor, 3: cyst \nInput modalities are 0: CT \nSee also https://kits21.kits-challenge.org/',
    urls: ['https://zenodo.org/record/5126443/files/Task135_KiTS2021.zip?download=1'],
    urlIsList: true,
  },
  {
    task: 'Task169_BrainTumorPET',
    description:
      'Brain tumor segmentation in FET PET images. Data originates from the Research Center Jülich, Germany.\nPredicted labels are 0: background, 1: tumor\nInput modalities are 0: FET PET\nSee also (NOT YET AVAILABLE)',
    urls: ['https://zenodo.org/record/8189234/files/nnUNet_FZJ_v2.zip?download=1'],
    urlIsList: true,
  },
];

/** The published model of a task name (exact, as v1 requires), or undefined. */
export function findPretrainedModel(task: string): PretrainedModel | undefined {
  return PRETRAINED_MODELS.find((m) => m.task === task);
}

/** Python's json.dumps(..., ensure_ascii=True) escaping of non-ASCII characters. */
function pythonAscii(json: string): string {
  return json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The table as v1's `nnUNet_print_available_pretrained_models --export` writes it
 * (available_models.json: {task: {description, url}} with json.dump(indent=1)).
 */
export function availableModelsJson(): string {
  const obj: Record<string, { description: string; url: string | readonly string[] }> = {};
  for (const m of PRETRAINED_MODELS) {
    obj[m.task] = { description: m.description, url: m.urlIsList ? m.urls : (m.urls[0] as string) };
  }
  return pythonAscii(JSON.stringify(obj, null, 1));
}

/** The listing v1 prints: a heading, then for each model a blank line, its name and its description. */
export function availableModelsText(): string {
  const parts = ['The following pretrained models are available:\n'];
  for (const m of PRETRAINED_MODELS) parts.push('', m.task, m.description);
  return `${parts.join('\n')}\n`;
}
